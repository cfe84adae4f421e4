// The API reference for Vellum: Swagger UI reading /api/openapi.json; every asset is
// served by Vellum itself, so it works offline. The token field (kept in this browser's
// sessionStorage, shared with GraphiQL) is sent as a Bearer token with the document's
// request and with every "Try it out" that does not set its own credentials.
(function () {
  var script = document.currentScript;
  var spec = script.getAttribute("data-spec");
  var redirect = script.getAttribute("data-oauth2-redirect");
  var tokenInput = document.getElementById("token");
  tokenInput.value = sessionStorage.getItem("vellum-token") || "";

  function withToken(request) {
    var token = tokenInput.value.trim();
    var headers = request.headers || {};
    if (token && !headers.Authorization && !headers["X-API-Key"]) {
      headers.Authorization = "Bearer " + token;
    }
    request.headers = headers;
    return request;
  }

  function load() {
    window.ui = SwaggerUIBundle({
      url: spec,
      dom_id: "#reference",
      deepLinking: true,
      validatorUrl: null, // never ask validator.swagger.io
      oauth2RedirectUrl: new URL(redirect, window.location.href).href,
      requestInterceptor: withToken,
      docExpansion: "list",
      defaultModelsExpandDepth: 0,
      tryItOutEnabled: false,
    });
  }

  tokenInput.addEventListener("change", function () {
    sessionStorage.setItem("vellum-token", tokenInput.value.trim());
    load(); // a private site's document needs the token
  });
  load();
})();
