// The blind A/B page (/review/ab): the next pair of answers and the reviewer's choice, through the JSON API of
// ui/ab.py. The page never learns which system wrote which answer. Text is only ever set as textContent: an answer
// holding <script> stays text.
(function () {
  const page = document.getElementById("ab");
  if (!page) return;
  const $ = (id) => document.getElementById(id);
  let role = null;
  let current = null;

  const { state, api, detail } = window.tunesmithApi;

  async function start() {
    const me = await api("GET", "/api/me");
    if (!me.ok) { $("ab-login").classList.remove("hidden"); return; }
    state.csrf = me.data.csrf_token;
    role = me.data.role;
    $("ab-me").textContent = me.data.name;
    $("ab-role").textContent = role;
    $("ab-viewer-note").classList.toggle("hidden", role !== "viewer");
    document.querySelectorAll(".ab-choice").forEach((b) => { b.disabled = role === "viewer"; });
    page.classList.remove("hidden");
    await load();
  }

  async function load() {
    const res = await api("GET", "/api/ab/next");
    if (!res.ok) { $("ab-status").textContent = detail(res); $("ab-status").className = "fail"; return; }
    const d = res.data;
    current = d.item_id;
    $("ab-judged").textContent = String(d.judged);
    $("ab-remaining").textContent = String(d.remaining);
    $("ab-done").classList.toggle("hidden", current !== null);
    $("ab-item").classList.toggle("hidden", current === null);
    if (current === null) return;
    $("ab-question").textContent = d.question;
    $("ab-reference").textContent = d.reference || "";
    for (const a of d.answers) $("ab-answer-" + a.label).textContent = a.text;
    $("ab-note").value = "";
  }

  async function choose(choice) {
    if (current === null || role === "viewer") return;
    const res = await api("POST", "/api/ab/" + encodeURIComponent(current), { choice, note: $("ab-note").value });
    $("ab-status").textContent = res.ok ? "recorded: " + (choice === "tie" ? "a tie" : choice + " is better") : detail(res);
    $("ab-status").className = res.ok ? "pass" : "fail";
    if (res.ok || res.status === 404 || res.status === 409) await load();
  }

  document.querySelectorAll(".ab-choice").forEach((b) => b.addEventListener("click", () => choose(b.dataset.choice)));
  document.addEventListener("keydown", (ev) => {
    if (page.classList.contains("hidden") || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (["INPUT", "TEXTAREA", "SELECT"].includes(ev.target.tagName)) return;
    const choice = { a: "A", b: "B", t: "tie" }[ev.key];
    if (choice) choose(choice);
  });

  start();
})();
