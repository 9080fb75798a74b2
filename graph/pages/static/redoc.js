// ReDoc over this server's OpenAPI schema. Search is off: it runs in a worker made from a
// blob: URL, which the Content-Security-Policy refuses (and a handful of routes needs no
// search). ReDoc's sidebar also shows Redocly's logo from their CDN, always: the policy
// blocks that image and ReDoc then leaves it out.
"use strict";

(function () {
  const element = document.getElementById("redoc");
  Redoc.init(element.dataset.openapiUrl, { disableSearch: true }, element);
})();
