// Words of the pages in French and English; numbers and dates through Intl in the user's locale.
const WORDS = {
  signin: ["Sign in", "Connexion"],
  token: ["API token", "Jeton d'API"],
  token_help: ["The token printed by p4dp users add. It stays in this tab only.",
    "Le jeton affiché par p4dp users add. Il reste dans cet onglet seulement."],
  signout: ["Sign out", "Déconnexion"],
  bad_token: ["This token is unknown or revoked.", "Ce jeton est inconnu ou révoqué."],
  studies: ["Studies", "Études"], new_study: ["New study", "Nouvelle étude"],
  create: ["Create", "Créer"], name: ["Name", "Nom"], versions: ["Versions", "Versions"],
  status: ["Status", "Statut"], last_result: ["Last feasibility result", "Dernier résultat de faisabilité"],
  none: ["none", "aucun"], open: ["Open", "Ouvrir"], version: ["Version", "Version"],
  created: ["Created", "Créée"], edit: ["Edit", "Modifier"], compare: ["Compare", "Comparer"],
  feasibility: ["Feasibility", "Faisabilité"], approved: ["approved", "approuvée"],
  submitted: ["submitted", "soumise"], draft: ["draft", "brouillon"],
  editor: ["Criteria editor", "Éditeur de critères"], criteria: ["Criteria file", "Fichier de critères"],
  check: ["Check", "Vérifier"], explain: ["Explain", "Expliquer"], save: ["Save as a new version", "Enregistrer une nouvelle version"],
  problems: ["Problems", "Problèmes"], no_problems: ["No problems.", "Aucun problème."],
  apply: ["Apply", "Appliquer"], line_col: ["line {line}, column {column}", "ligne {line}, colonne {column}"],
  saved: ["Saved as version {n}.", "Enregistré comme version {n}."],
  same_version: ["Same criteria as version {n}.", "Mêmes critères que la version {n}."],
  save_failed: ["Not saved: {why}. Your text is kept here and as a draft on the server.",
    "Non enregistré : {why}. Votre texte est conservé ici et comme brouillon sur le serveur."],
  draft_restored: ["Your unsaved text was restored.", "Votre texte non enregistré a été restauré."],
  codeset: ["Code set", "Jeu de codes"], codes_n: ["{n} codes", "{n} codes"],
  completions: ["Terminology suggestions", "Suggestions de la terminologie"],
  diff: ["Compare versions", "Comparer les versions"], changes: ["Changes", "Modifications"],
  added: ["added", "ajoutée"], removed: ["removed", "supprimée"], changed: ["changed", "modifiée"],
  start_run: ["Count eligible patients", "Compter les patients éligibles"],
  by: ["Breakdown", "Ventilation"], by_none: ["none", "aucune"],
  run_status: ["Run {id}: {status}", "Calcul {id} : {status}"],
  budget_left: ["Feasibility requests left this window: {n}", "Requêtes de faisabilité restantes : {n}"],
  budget_unknown: ["Budget: not known (no ledger)", "Budget : inconnu (pas de registre)"],
  funnel: ["Attrition funnel", "Entonnoir d'attrition"], remaining: ["remaining", "restants"],
  masked: ["masked (< {t})", "masqué (< {t})"], rule: ["Rule", "Règle"],
  counts: ["Counts", "Effectifs"], breakdowns: ["Breakdowns", "Ventilations"],
  whatif: ["What if", "Et si"], rule_off: ["off", "désactivée"],
  up: ["Move up", "Monter"], down: ["Move down", "Descendre"],
  recompute: ["Recompute the funnel", "Recalculer l'entonnoir"],
  whatif_note: ["Recomputed from this run's stored result, without a new scan of the data; each recompute is still a new release under disclosure control and uses one request of the budget.",
    "Recalculé à partir du résultat conservé de ce calcul, sans nouvelle lecture des données ; chaque recalcul reste une nouvelle publication sous contrôle de divulgation et consomme une requête du budget."],
  recomputing: ["Recomputing…", "Recalcul…"],
  whatif_from: ["What-if from run {id} (data snapshot {s}): no new scan.",
    "Hypothèse recalculée à partir du calcul {id} (instantané {s}) : sans nouvelle lecture des données."],
  approvals: ["Approvals", "Approbations"], approve: ["Approve", "Approuver"],
  approval_note: ["Approval note", "Note d'approbation"], exact: ["Exact counts", "Effectifs exacts"],
  no_exact: ["No steward count yet: run one first.", "Pas encore de comptage exact : lancez-en un."],
  issue_lists: ["Sign candidate lists", "Signer les listes de candidats"],
  queue_empty: ["No version waits for approval.", "Aucune version n'attend d'approbation."],
  ledger: ["Ledger", "Registre"], audit: ["Audit log", "Journal d'audit"],
  chain_ok: ["Hash chain intact ({n} rows checked).", "Chaîne de hachage intacte ({n} lignes vérifiées)."],
  chain_bad: ["Hash chain broken:", "Chaîne de hachage rompue :"],
  who: ["Who", "Qui"], when: ["When", "Quand"], what: ["What", "Quoi"], kind: ["Kind", "Type"],
  lists: ["Candidate lists", "Listes de candidats"], study: ["Study", "Étude"],
  issued: ["Issued", "Émise"], expires: ["Expires", "Expire"], candidates: ["Candidates", "Candidats"],
  download: ["Download the signed list", "Télécharger la liste signée"],
  howto: ["How to use it", "Mode d'emploi"],
  howto_text: ["Save the file, then in the practice kit: p4dp practice reidentify LIST.json --key practice.key --export EXPORT --public-key platform-signing.pub --format html --out candidates.html. The kit checks the platform's signature and shows the names only on your machine.",
    "Enregistrez le fichier, puis dans le kit du cabinet : p4dp practice reidentify LISTE.json --key practice.key --export EXPORT --public-key platform-signing.pub --format html --out candidats.html. Le kit vérifie la signature de la plateforme et n'affiche les noms que sur votre poste."],
  feedback: ["Feedback", "Retour"], send: ["Send", "Envoyer"],
  outcomes: ["Outcomes (number of candidates)", "Issues (nombre de candidats)"],
  failed_rules: ["Rules found wrong (number of candidates)", "Règles jugées fausses (nombre de candidats)"],
  feedback_sent: ["Feedback recorded. Thank you.", "Retour enregistré. Merci."],
  no_lists: ["No list for this practice.", "Aucune liste pour ce cabinet."],
  server_error: ["The server could not answer ({status}): {detail}. Nothing was lost; try again.",
    "Le serveur n'a pas pu répondre ({status}) : {detail}. Rien n'a été perdu ; réessayez."],
  not_found: ["Not found, or not yours to see.", "Introuvable, ou non accessible pour vous."],
  forbidden: ["Your role may not see this page.", "Votre rôle ne permet pas de voir cette page."],
  outcome_not_contacted: ["not contacted", "non contacté"], outcome_contacted: ["contacted", "contacté"],
  outcome_declined: ["declined", "a refusé"], outcome_not_eligible: ["not eligible", "non éligible"],
  outcome_enrolled: ["enrolled", "inclus"],
};

const KEY = "p4dp.lang";

export function lang() {
  return localStorage.getItem(KEY) || document.documentElement.dataset.defaultLang || "en";
}

export function setLang(value, remember = true) {
  if (remember) localStorage.setItem(KEY, value);
  document.documentElement.lang = value;
}

/** The word `key` in the current language, `{name}` replaced from `vars`. */
export function t(key, vars = {}) {
  const pair = WORDS[key] || [key, key];
  const text = pair[lang() === "fr" ? 1 : 0];
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

const locale = () => (lang() === "fr" ? "fr-FR" : navigator.language || "en-GB");
export const num = (n) => new Intl.NumberFormat(locale()).format(n);
export const date = (iso) => (iso ? new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeStyle: "short" }).format(new Date(iso)) : "");
