// The review pages' one client of the dashboard's JSON API (review.js and ab.js): every write carries the session's
// CSRF token, which the page sets in `tunesmithApi.state.csrf` after login.
window.tunesmithApi = (function () {
  const state = { csrf: null };

  async function api(method, url, body) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET" && state.csrf) headers["X-CSRF-Token"] = state.csrf;
    const r = await fetch(url, {
      method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try { data = await r.json(); } catch (e) { data = null; }
    return { ok: r.ok, status: r.status, data };
  }

  function detail(res) {
    const d = res.data && res.data.detail;
    if (!d) return "HTTP " + res.status;
    return typeof d === "string" ? d : JSON.stringify(d);
  }

  return { state, api, detail };
})();
