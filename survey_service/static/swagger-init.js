// Starts Swagger UI on /api/docs from a file of our own, so the page runs under script-src 'self'.
window.addEventListener("load", function () {
  var node = document.getElementById("swagger-ui-container");
  var config = {url: node.dataset.specUrl, dom_id: "#swagger-ui-container"};
  var extra = JSON.parse(node.dataset.config || "{}");
  for (var name in extra) {
    config[name] = extra[name];
  }
  window.ui = SwaggerUIBundle(config);
});
