"""A small reverse proxy that forwards like an ALB or nginx's ``$proxy_add_x_forwarded_for``.

It appends its own peer's address to whatever X-Forwarded-For the caller sent and connects upstream from
127.0.0.1, so the gateway behind it sees one trusted hop. Run as its own process by the proxy-quota tests:

    python tests/reliability/forwarding_proxy.py --port 9000 --upstream http://127.0.0.1:8080
"""

import argparse

from aiohttp import ClientSession, TCPConnector, web

# Hop-by-hop headers (RFC 9110, section 7.6.1) and the ones aiohttp recomputes for each hop.
NOT_FORWARDED = {"connection", "keep-alive", "transfer-encoding", "upgrade", "host", "content-length"}


def make_app(upstream: str) -> web.Application:
    async def open_session(app: web.Application) -> None:
        # Bound to 127.0.0.1: the one address the gateway under test trusts as a proxy.
        app["session"] = ClientSession(connector=TCPConnector(local_addr=("127.0.0.1", 0)))

    async def close_session(app: web.Application) -> None:
        await app["session"].close()

    async def forward(request: web.Request) -> web.Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in NOT_FORWARDED}
        sent = request.headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = f"{sent}, {request.remote}" if sent else str(request.remote)
        headers["X-Forwarded-Proto"] = "https"
        async with request.app["session"].request(
            request.method, upstream + request.path_qs, headers=headers, data=await request.read()
        ) as answer:
            body = await answer.read()
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in NOT_FORWARDED}
            return web.Response(status=answer.status, headers=kept, body=body)

    app = web.Application()
    app.on_startup.append(open_session)
    app.on_cleanup.append(close_session)
    app.router.add_route("*", "/{tail:.*}", forward)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="http://host:port of the gateway")
    args = parser.parse_args()
    web.run_app(make_app(args.upstream.rstrip("/")), host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
