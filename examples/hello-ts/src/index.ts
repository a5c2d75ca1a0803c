// GET /default/hello-ts?name=you -> "hello, you" (as examples/hello answers in AssemblyScript).
export default {
  async fetch(request: Request): Promise<Response> {
    const name = new URL(request.url).searchParams.get("name") || "world";
    return new Response(`hello, ${name}\n`, { headers: { "content-type": "text/plain; charset=utf-8" } });
  },
};
