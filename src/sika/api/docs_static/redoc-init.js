// Starts ReDoc on the OpenAPI document its element names (data-spec-url). ReDoc styles itself with
// <style> elements it creates: they carry the page's nonce (data-style-nonce, the one its CSP allows),
// so the CSP needs neither inline scripts nor 'unsafe-inline' styles. A file of its own, not an
// inline script, for the same reason.
(function () {
  "use strict";
  var root = document.getElementById("redoc");
  Redoc.init(root.dataset.specUrl, { nonce: root.dataset.styleNonce }, root);
})();
