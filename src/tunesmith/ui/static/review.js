// The review page (/review): login, the queue and its decisions, all through the JSON API of ui/review.py.
// Text from the data is only ever set as textContent, never as HTML: an example holding <script> stays text.
(function () {
  const page = document.getElementById("queue");
  if (!page) return;
  const $ = (id) => document.getElementById(id);
  const DONE = { approve: "approved", edit: "edited and approved", reject: "rejected" };
  let role = null;
  let items = [];
  let selected = 0;

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  const { state, api, detail } = window.tunesmithApi;

  function showLogin() {
    $("login").classList.remove("hidden");
    page.classList.add("hidden");
  }

  async function start() {
    const me = await api("GET", "/api/me");
    if (!me.ok) { showLogin(); return; }
    state.csrf = me.data.csrf_token;
    role = me.data.role;
    $("me").textContent = me.data.name;
    $("my-role").textContent = role;
    $("viewer-note").classList.toggle("hidden", role !== "viewer");
    $("login").classList.add("hidden");
    page.classList.remove("hidden");
    await load();
  }

  async function load() {
    const q = await api("GET", "/api/review/queue");
    if (!q.ok) { if (q.status === 401) showLogin(); else $("status").textContent = detail(q); return; }
    items = q.data.items;
    $("queue-errors").textContent = q.data.errors.join("; ");
    $("count").textContent = String(items.length);
    $("items").replaceChildren(...items.map(render));
    select(Math.min(selected, items.length - 1));
  }

  function message(role, content, cls) {
    const row = el("div", "msg" + (cls ? " " + cls : ""));
    row.append(el("span", "role", role), el("span", "content", content || ""));
    return row;
  }

  function render(item, i) {
    const card = el("section", "item card");
    card.dataset.id = item.id;
    card.addEventListener("click", () => select(i));
    const head = el("p", "item-head");
    head.append(el("span", "badge kind", item.kind), " ", el("code", "source", item.source.file + ":" + item.source.line));
    for (const t of item.tags) head.append(" ", el("span", "badge tag", t));
    card.append(head);
    for (const m of item.messages) card.append(message(m.role, m.content));
    for (const m of item.rejected || []) card.append(message("rejected", m.content, "rejected"));
    const answer = [...item.messages].reverse().find((m) => m.role === "assistant");
    const edit = el("textarea", "edit");
    edit.rows = 3;
    edit.value = answer ? answer.content : "";
    edit.setAttribute("aria-label", "the answer, to edit");
    const note = el("input", "note");
    note.placeholder = "note: why";
    note.setAttribute("aria-label", "note");
    const actions = el("p", "actions");
    for (const [decision, label] of [["approve", "approve"], ["edit", "save edit and approve"], ["reject", "reject"]]) {
      const b = el("button", "decide " + decision, label);
      b.type = "button";
      b.disabled = role === "viewer";
      b.addEventListener("click", () => decide(item, decision, edit.value, note.value));
      actions.append(b, " ");
    }
    card.append(edit, note, actions);
    return card;
  }

  function select(i) {
    const cards = $("items").querySelectorAll(".item");
    if (!cards.length) return;
    selected = Math.max(0, Math.min(i, cards.length - 1));
    cards.forEach((c, n) => c.classList.toggle("selected", n === selected));
  }

  async function decide(item, decision, content, note) {
    const body = { decision, note };
    if (decision === "edit") body.content = content;
    const res = await api("POST", "/api/review/" + encodeURIComponent(item.id), body);
    $("status").textContent = res.ok ? DONE[decision] + ": " + item.source.file + ":" + item.source.line : detail(res);
    $("status").className = res.ok ? "pass" : "fail";
    if (res.ok || res.status === 404 || res.status === 409) await load();
  }

  document.addEventListener("keydown", (ev) => {
    if (page.classList.contains("hidden") || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (["INPUT", "TEXTAREA", "SELECT"].includes(ev.target.tagName)) return;
    const card = $("items").querySelectorAll(".item")[selected];
    const item = items[selected];
    if (ev.key === "j") select(selected + 1);
    else if (ev.key === "k") select(selected - 1);
    else if (!item || role === "viewer") return;
    else if (ev.key === "a") decide(item, "approve", null, card.querySelector(".note").value);
    else if (ev.key === "r") decide(item, "reject", null, card.querySelector(".note").value);
    else if (ev.key === "e") { ev.preventDefault(); card.querySelector(".edit").focus(); }
  });

  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const res = await api("POST", "/api/login", { name: $("login-name").value, password: $("login-password").value });
    $("login-password").value = "";
    if (!res.ok) { $("login-error").textContent = detail(res); return; }
    $("login-error").textContent = "";
    await start();
  });

  $("logout").addEventListener("click", async () => {
    await api("POST", "/api/logout", {});
    state.csrf = null;
    showLogin();
  });

  start();
})();
