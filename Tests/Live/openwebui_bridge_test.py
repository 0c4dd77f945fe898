"""The Open WebUI bridge (integrations/openwebui/proxima_bridge.py) run against a live `proxima serve`, called the
way Open WebUI calls a Filter function: inlet with the request metadata, then the request sent to Proxima as
Open WebUI's OpenAI connection sends it, then outlet; Open WebUI's feedback table stands in as a list of records
of the shape Open WebUI stores (models/feedbacks.py: id, type "rating", data.rating ±1, meta.chat_id and
meta.message_id, updated_at).

    python Tests/Live/openwebui_bridge_test.py --binary .build/release/proxima --model models/….gguf

It checks: a chat message is logged with its client_ref and a pair; a background task (marked in the metadata)
and a request to the `:no-learn` alias (the task model docs/openwebui.md sets) log nothing; a thumb given in
Open WebUI reaches Proxima as a thumb on that response, once (a second pass, and a fresh bridge after a restart,
add nothing); a changed rating is a new event and the latest counts; a rating on a message Proxima never logged
is skipped; Proxima unreachable or Open WebUI's table failing never breaks a chat, and the rating goes through
once Proxima is back.
"""

import argparse
import asyncio
import importlib.util
import json
import os
import time
import urllib.request

from live_server import USER_KEY, LiveServer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_bridge():
    spec = importlib.util.spec_from_file_location("proxima_bridge", os.path.join(ROOT, "integrations/openwebui/proxima_bridge.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def chat(server, body):
    """What Open WebUI's OpenAI connection does with the body its filters returned."""
    request = urllib.request.Request(server.base + "/v1/chat/completions", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": "Bearer " + USER_KEY})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def rating(feedback_id, chat_id, message_id, value, updated_at, comment=None):
    return {"id": feedback_id, "user_id": "u1", "version": 0, "type": "rating",
            "data": {"rating": value, "model_id": "proxima", "comment": comment},
            "meta": {"chat_id": chat_id, "message_id": message_id, "arena": False},
            "snapshot": None, "created_at": updated_at, "updated_at": updated_at}


def bridge(module, server, feedbacks):
    f = module.Filter()
    f.valves.proxima_url = server.base
    f.valves.api_key = USER_KEY

    async def load(user_id):
        assert user_id == "u1"
        if isinstance(feedbacks, Exception):
            raise feedbacks
        return list(feedbacks)

    f.load_feedbacks = load
    return f


async def run(server):
    module = load_bridge()
    user = {"id": "u1", "role": "user"}
    feedbacks = []
    f = bridge(module, server, feedbacks)

    # A chat message: named for Proxima, logged with two samples.
    metadata = {"chat_id": "chat-1", "message_id": "msg-1", "session_id": "sess", "user_id": "u1"}
    body = await f.inlet({"model": "SmolLM2", "messages": [{"role": "user", "content": "Name a fruit."}], "stream": False},
                         __metadata__=metadata, __user__=user)
    assert body["proxima"] == {"client_ref": "openwebui:chat-1:msg-1"}, body
    answer = chat(server, body)
    response_id = answer["id"]
    await f.outlet({"messages": []}, __user__=user)
    rows = server.query("SELECT id, client_ref, pair_id IS NOT NULL FROM requests")
    assert rows == [(response_id, "openwebui:chat-1:msg-1", 1)], rows

    # Background tasks: by the metadata (the filter) and by the alias (the task model setting) — nothing logged.
    task = await f.inlet({"model": "SmolLM2", "messages": [{"role": "user", "content": "Title for: Name a fruit."}]},
                         __metadata__={"task": "title_generation", "chat_id": "chat-1", "message_id": "msg-1"}, __user__=user)
    assert task["proxima"] == {"learn": False}, task
    chat(server, task)
    models = json.loads(urllib.request.urlopen(urllib.request.Request(
        server.base + "/v1/models", headers={"Authorization": "Bearer " + USER_KEY}), timeout=10).read())
    alias = next(m["id"] for m in models["data"] if m["id"].endswith(":no-learn"))
    chat(server, {"model": alias, "messages": [{"role": "user", "content": "Tags for: Name a fruit."}]})
    assert len(server.query("SELECT id FROM requests")) == 1, "tasks must not be logged"

    # A thumb given in Open WebUI reaches Proxima once.
    now = int(time.time())
    feedbacks.append(rating("fb-1", "chat-1", "msg-1", 1, now, comment="tasty"))
    assert await f.forward_ratings(user) == 1
    assert await f.forward_ratings(user) == 0, "already forwarded"
    restarted = bridge(module, server, feedbacks)
    assert await restarted.forward_ratings(user) == 0, "a restarted bridge sends it again; Proxima keeps one"
    thumbs = server.query("SELECT request_id, kind, value, rated_index, comment, source FROM feedback ORDER BY id")
    assert thumbs == [(response_id, "thumb", "up", 0, "tasty", "user")], thumbs

    # The user changes their mind: a new event, and the latest one counts.
    feedbacks[0] = rating("fb-1", "chat-1", "msg-1", "-1", now + 5)
    await f.inlet({"model": "SmolLM2", "messages": [{"role": "user", "content": "And a vegetable?"}]},
                  __metadata__={"chat_id": "chat-1", "message_id": "msg-2", "session_id": "sess"}, __user__=user)
    values = [r[0] for r in server.query("SELECT value FROM feedback ORDER BY id")]
    assert values == ["up", "down"], values

    # A rating of a message Proxima never logged (another model in Open WebUI) is skipped, not retried.
    feedbacks.append(rating("fb-2", "chat-9", "msg-9", 1, now))
    assert await f.forward_ratings(user) == 0
    assert f.forwarded.get("fb-2") == now

    # Proxima unreachable: nothing breaks, the rating waits; Open WebUI's table failing: nothing breaks.
    feedbacks.append(rating("fb-3", "chat-1", "msg-1", 1, now + 10))
    f.valves.proxima_url = "http://127.0.0.1:9"
    assert await f.forward_ratings(user) == 0
    f.valves.proxima_url = server.base
    assert await f.forward_ratings(user) == 1, "forwarded once Proxima is back"
    broken = bridge(module, server, RuntimeError("database is locked"))
    body = await broken.inlet({"model": "SmolLM2", "messages": [{"role": "user", "content": "Hi"}]},
                              __metadata__=metadata, __user__=user)
    assert body["proxima"]["client_ref"] == "openwebui:chat-1:msg-1"
    print("Open WebUI bridge test passed")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--model", required=True)
    args = parser.parse_args()
    server = LiveServer(args.binary, args.model)
    try:
        asyncio.run(run(server))
        server.ok = True
    finally:
        server.stop()


if __name__ == "__main__":
    main()
