// Shows the instance's own /health answer on the page, so a person sees
// what the load balancer sees.  No framework: one fetch, one element.
(function () {
  "use strict";
  var el = document.getElementById("status");
  if (!el || !window.fetch) {
    return;
  }
  fetch("/health", { cache: "no-store" })
    .then(function (r) {
      el.className = "status " + (r.ok ? "ok" : "bad");
      el.textContent = "/health answered " + r.status + " " +
        (r.ok ? "(in service)" : "(the load balancer would take this instance out)");
    })
    .catch(function (e) {
      el.className = "status bad";
      el.textContent = "/health did not answer: " + e;
    });
})();
