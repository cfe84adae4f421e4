// GraphiQL for Vellum: every asset is served by Vellum itself, so it works offline.
// The token field (kept in this browser's sessionStorage) is sent as a Bearer token.
(function () {
  var script = document.currentScript;
  var endpoint = script.getAttribute("data-endpoint");
  var tokenInput = document.getElementById("token");
  tokenInput.value = sessionStorage.getItem("vellum-token") || "";
  tokenInput.addEventListener("change", function () {
    sessionStorage.setItem("vellum-token", tokenInput.value.trim());
  });

  function fetcher(params, options) {
    var headers = { "Content-Type": "application/json", Accept: "application/json" };
    var extra = (options && options.headers) || {};
    Object.keys(extra).forEach(function (name) { headers[name] = extra[name]; });
    var token = tokenInput.value.trim();
    if (token && !headers.Authorization) headers.Authorization = "Bearer " + token;
    return fetch(endpoint, {
      method: "POST",
      headers: headers,
      body: JSON.stringify(params),
      credentials: "same-origin",
    }).then(function (response) { return response.json(); });
  }

  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(React.createElement(GraphiQL, {
    fetcher: fetcher,
    defaultEditorToolsVisibility: true,
    isHeadersEditorEnabled: true,
  }));
})();
