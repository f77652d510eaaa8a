// The shell: sign-in, the navigation of the caller's role, and the router on the URL fragment.
// Every page is a function (params, me) → Node; any error it throws becomes a clear message.
import { ApiError, api, el, setToken, token } from "./dom.js";
import { lang, setLang, t } from "./i18n.js";
import { sponsorRoutes } from "./sponsor.js";
import { stewardRoutes } from "./steward.js";
import { physicianRoutes } from "./physician.js";

const ROUTES = [...sponsorRoutes, ...stewardRoutes, ...physicianRoutes];
const HOME = { sponsor: "#/studies", steward: "#/approvals", physician: "#/lists", admin: "#/" };
const NAV = {
  sponsor: [["#/studies", "studies"]],
  steward: [["#/approvals", "approvals"], ["#/studies", "studies"], ["#/ledger", "ledger"], ["#/audit", "audit"]],
  physician: [["#/lists", "lists"]],
  admin: [],
};
let me = null;

/** A message for a failed call: what the user can do about it, never a blank page. */
export function errorBox(exc) {
  if (exc instanceof ApiError && exc.status === 404) return el("p", { class: "alert", role: "alert" }, t("not_found"));
  if (exc instanceof ApiError && exc.status === 403) return el("p", { class: "alert", role: "alert" }, t("forbidden"));
  const status = exc instanceof ApiError ? exc.status || "—" : "—";
  const detail = exc instanceof ApiError ? exc.message : String(exc);
  return el("p", { class: "alert", role: "alert" }, t("server_error", { status, detail }));
}

function signInPage(message) {
  const input = el("input", { id: "token", type: "password", autocomplete: "off", required: true, "aria-describedby": "token-help" });
  const form = el("form", { class: "card", onsubmit: async (event) => {
    event.preventDefault();
    setToken(input.value.trim());
    await start();
  } },
  el("label", { for: "token" }, t("token")), input, " ", el("button", { type: "submit" }, t("signin")),
  el("p", { id: "token-help" }, t("token_help")));
  const alert = message ? [el("p", { class: "alert", role: "alert" }, message)] : [];
  return [el("h1", {}, t("signin")), ...alert, form];
}

function renderShell() {
  document.documentElement.dataset.defaultLang = me && me.role === "physician" ? "fr" : (navigator.language || "en").startsWith("fr") ? "fr" : "en";
  setLang(lang(), false);
  document.getElementById("lang").value = lang();
  const nav = document.getElementById("nav");
  nav.replaceChildren(...(me ? NAV[me.role] : []).map(([href, key]) => el("a", { href }, t(key))));
  document.getElementById("who").textContent = me ? `${me.name} (${me.role}${me.practice ? ", " + me.practice : ""})` : "";
  const out = document.getElementById("signout");
  out.hidden = !me;
  out.textContent = t("signout");
}

let renders = 0;

async function render() {
  const mine = ++renders; // a slower, older render never overwrites a newer page
  const main = document.getElementById("main");
  renderShell();
  if (!me) { main.replaceChildren(...signInPage()); return; }
  const hash = location.hash || HOME[me.role];
  for (const route of ROUTES) {
    const match = hash.match(route.pattern);
    if (!match) continue;
    if (!route.roles.includes(me.role)) { main.replaceChildren(el("p", { class: "alert", role: "alert" }, t("forbidden"))); return; }
    main.replaceChildren(el("p", {}, "…"));
    try {
      const page = await route.page(match.slice(1), me);
      if (mine !== renders) return;
      main.replaceChildren(...[page].flat(Infinity).filter((x) => x != null && x !== false));
    } catch (exc) {
      if (mine !== renders) return;
      if (exc instanceof ApiError && exc.status === 401) return signOut(t("bad_token"));
      main.replaceChildren(errorBox(exc));
    }
    return;
  }
  if (hash !== HOME[me.role]) location.hash = HOME[me.role];
  else main.replaceChildren(el("p", {}, me.role));
}

function signOut(message) {
  setToken(null);
  me = null;
  renderShell();
  document.getElementById("main").replaceChildren(...signInPage(message));
}

async function start() {
  if (!token()) { me = null; return render(); }
  try {
    me = await api("/me");
  } catch (exc) {
    if (exc instanceof ApiError && exc.status === 401) return signOut(t("bad_token"));
    document.getElementById("main").replaceChildren(errorBox(exc));
    return;
  }
  await render();
}

export function refreshMe() { return api("/me").then((value) => { me = value; return value; }); }

document.getElementById("lang").addEventListener("change", (event) => { setLang(event.target.value); render(); });
document.getElementById("signout").addEventListener("click", () => signOut());
window.addEventListener("hashchange", render);
start();
