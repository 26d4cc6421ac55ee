// The Hello World service: answers "Hello World" on /, and "ok" on /healthz for the probes.
// Node's standard library only, so the image needs no `npm install`.
"use strict";

const http = require("http");

const port = Number(process.env.PORT || 8080);
const version = process.env.VERSION || "unknown";

const server = http.createServer((request, response) => {
  const path = new URL(request.url, "http://localhost").pathname;
  if (path === "/healthz") {
    response.writeHead(200, { "Content-Type": "text/plain" });
    response.end("ok\n");
  } else if (path === "/") {
    response.writeHead(200, { "Content-Type": "text/plain", "X-Version": version });
    response.end("Hello World\n");
  } else {
    response.writeHead(404, { "Content-Type": "text/plain" });
    response.end("Not Found\n");
  }
});

server.listen(port, () => console.log(`hello-world ${version} listening on port ${port}`));

// Kubernetes sends SIGTERM before it kills a pod: finish the requests in flight, then exit.
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
