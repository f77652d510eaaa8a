"""The pseudonymised data contract: schema, loading and validation."""
