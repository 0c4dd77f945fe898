"""
title: Proxima learning bridge
author: Proxima
version: 0.1.0
license: same as Proxima
description: Keeps Open WebUI's background tasks out of Proxima's learning, names each chat response for Proxima, and forwards the thumbs given in Open WebUI to Proxima's /v1/feedback, where they teach the next version.
"""

# An Open WebUI Filter function (Admin Panel → Functions → import this file, enable it, make it global or attach
# it to the Proxima model). docs/openwebui.md has the whole set-up. What it does:
#
# - inlet: a background task (title, tags, follow-ups, query rewrite, autocomplete, …; Open WebUI marks them in
#   the request metadata) gets `"proxima": {"learn": false}`: one response, nothing logged, nothing learned. A
#   chat message gets `"proxima": {"client_ref": "openwebui:<chat id>:<message id>"}`: Proxima logs the response
#   under that name, which is how Open WebUI's thumbs (kept in its own feedback table, by chat and message id)
#   find it again.
# - inlet and outlet: the user's ratings that changed since they were last forwarded (Open WebUI's feedback
#   records of this user) are sent to Proxima as thumbs by client_ref, with an event id made of the feedback's
#   id and its update time, so a retry or a restart never counts a rating twice. A rating reaches Proxima at the
#   user's next message or the end of the next response.
#
# Only the standard library and pydantic (which Open WebUI ships) are used.

import asyncio
import inspect
import json
import logging
import time
import urllib.error
import urllib.request
from typing import Optional

from pydantic import BaseModel, Field

log = logging.getLogger("proxima_bridge")

CLIENT_REF_PREFIX = "openwebui"
MAX_COMMENT = 4000  # Proxima's limit on a feedback comment (characters)


def client_ref(chat_id: str, message_id: str) -> str:
    """Proxima's name for an Open WebUI response: the chat and the assistant message it became."""
    return f"{CLIENT_REF_PREFIX}:{chat_id}:{message_id}"


def thumb_from_feedback(feedback: dict) -> Optional[dict]:
    """The /v1/feedback body for one Open WebUI feedback record, or None when it is not a thumb on a message.

    Open WebUI stores a rating as {id, type: "rating", data: {rating: 1 | -1, comment, reason, …},
    meta: {chat_id, message_id, …}, updated_at}; the rating may arrive as a number or a string.
    """
    if feedback.get("type") != "rating":
        return None
    data, meta = feedback.get("data") or {}, feedback.get("meta") or {}
    try:
        rating = int(data.get("rating"))
    except (TypeError, ValueError):
        return None
    if rating == 0 or not meta.get("chat_id") or not meta.get("message_id"):
        return None
    body = {
        "client_ref": client_ref(meta["chat_id"], meta["message_id"]),
        "rating": "up" if rating > 0 else "down",
        "event_id": f"openwebui-{feedback.get('id')}-{feedback.get('updated_at', 0)}"[:128],
    }
    comment = " — ".join(str(x) for x in (data.get("reason"), data.get("comment")) if x)
    if comment:
        body["comment"] = comment[:MAX_COMMENT]
    return body


async def open_webui_feedbacks(user_id: str) -> list[dict]:
    """This user's feedback records from Open WebUI's own table, newest first (sync before 0.9, async since)."""
    from open_webui.models.feedbacks import Feedbacks  # available inside Open WebUI only

    records = Feedbacks.get_feedbacks_by_user_id(user_id)
    if inspect.isawaitable(records):
        records = await records
    return [r.model_dump() if hasattr(r, "model_dump") else dict(r) for r in records]


class Filter:
    class Valves(BaseModel):
        proxima_url: str = Field(default="http://127.0.0.1:8080", description="Proxima's address, without /v1")
        api_key: str = Field(default="", description="The Proxima key of Open WebUI's connection (a thumb must come from the key that asked, or an admin key)")
        lookback_days: float = Field(default=7, description="Ratings changed longer ago than this are not forwarded")
        timeout_seconds: float = Field(default=5, description="Per request to Proxima")
        priority: int = Field(default=0, description="Filter order (lower runs first)")

    def __init__(self):
        self.valves = self.Valves()
        self.forwarded: dict[str, int] = {}  # feedback id → the updated_at last forwarded (or found not Proxima's)
        self.load_feedbacks = open_webui_feedbacks  # replaced in tests; Open WebUI's table otherwise

    async def inlet(self, body: dict, __metadata__: Optional[dict] = None, __user__: Optional[dict] = None) -> dict:
        metadata = __metadata__ or {}
        options = dict(body.get("proxima") or {})
        if metadata.get("task"):
            options["learn"] = False
        elif metadata.get("chat_id") and metadata.get("message_id"):
            options["client_ref"] = client_ref(str(metadata["chat_id"]), str(metadata["message_id"]))
        if options:
            body["proxima"] = options
        await self.forward_ratings(__user__)
        return body

    async def outlet(self, body: dict, __user__: Optional[dict] = None) -> dict:
        await self.forward_ratings(__user__)
        return body

    async def forward_ratings(self, user: Optional[dict]) -> int:
        """Sends this user's new or changed thumbs to Proxima; returns how many Proxima recorded."""
        if not user or not user.get("id"):
            return 0
        try:
            feedbacks = await self.load_feedbacks(user["id"])
        except Exception as error:  # the bridge must never break a chat
            log.warning("proxima bridge: cannot read Open WebUI's feedback: %s", error)
            return 0
        oldest = time.time() - self.valves.lookback_days * 86400
        recorded = 0
        for feedback in feedbacks:
            updated = int(feedback.get("updated_at") or 0)
            if updated < oldest or self.forwarded.get(str(feedback.get("id"))) == updated:
                continue
            body = thumb_from_feedback(feedback)
            if body is None:
                self.forwarded[str(feedback.get("id"))] = updated
                continue
            status, answer = await asyncio.to_thread(self.post, "/v1/feedback", body)
            if status == 200 or status == 404:
                # 404: not a response Proxima logged (another model, or one that must not teach): nothing to do.
                self.forwarded[str(feedback.get("id"))] = updated
                if status == 200 and answer.get("status") == "recorded":
                    recorded += 1
            else:
                log.warning("proxima bridge: feedback %s not forwarded (%s): %s", feedback.get("id"), status, answer)
        return recorded

    def post(self, path: str, body: dict) -> tuple[int, dict]:
        request = urllib.request.Request(self.valves.proxima_url.rstrip("/") + path, data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        if self.valves.api_key:
            request.add_header("Authorization", "Bearer " + self.valves.api_key)
        try:
            with urllib.request.urlopen(request, timeout=self.valves.timeout_seconds) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            try:
                return error.code, json.loads(error.read() or b"{}")
            except ValueError:
                return error.code, {}
        except (OSError, ValueError) as error:
            return 0, {"error": str(error)}
