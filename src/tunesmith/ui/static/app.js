// The test-case browser on /evals: filter rows by tag and by "fine-tune lost", in the page (no request).
(function () {
  for (const browser of document.querySelectorAll(".case-browser")) {
    const tag = browser.querySelector("select.tag-filter");
    const lost = browser.querySelector("input.lost-filter");
    const count = browser.querySelector(".shown");
    const rows = browser.querySelectorAll("tr.case");
    function apply() {
      let shown = 0;
      for (const row of rows) {
        const tags = (row.dataset.tags || "").split("|");
        const ok = (!tag.value || tags.includes(tag.value)) && (!lost.checked || row.dataset.lost === "1");
        row.classList.toggle("hidden", !ok);
        if (ok) shown++;
      }
      count.textContent = String(shown);
    }
    tag.addEventListener("change", apply);
    lost.addEventListener("change", apply);
    apply();
  }
})();
