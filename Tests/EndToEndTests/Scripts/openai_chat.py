# openai_chat.py: drives a live `proxima serve` with the official openai client, unmodified: one
# non-streaming and one streaming chat; prints what came back as JSON for the Swift test to check.
# Usage: openai_chat.py BASE_URL API_KEY
import json
import sys

from openai import OpenAI

client = OpenAI(base_url=sys.argv[1], api_key=sys.argv[2], max_retries=0, timeout=120)
messages = [{"role": "system", "content": "You are brief."}, {"role": "user", "content": "What is the capital of France?"}]

completion = client.chat.completions.create(model="smollm2", messages=messages, max_tokens=16, seed=11,
                                            temperature=0.7, logprobs=True, top_logprobs=2)
choice = completion.choices[0]
plain = {
    "id": completion.id,
    "object": completion.object,
    "model": completion.model,
    "content": choice.message.content,
    "role": choice.message.role,
    "finish_reason": choice.finish_reason,
    "usage": completion.usage.model_dump(),
    "logprob_tokens": len(choice.logprobs.content),
    "proxima": (completion.model_extra or {}).get("proxima"),
}

stream = client.chat.completions.create(model="smollm2", messages=messages, max_tokens=16, seed=12, stream=True,
                                        stream_options={"include_usage": True})
ids, parts, finish, usage, chunks = set(), [], None, None, 0
for chunk in stream:
    chunks += 1
    ids.add(chunk.id)
    for c in chunk.choices:
        parts.append(c.delta.content or "")
        finish = c.finish_reason or finish
    if chunk.usage is not None:
        usage = chunk.usage.model_dump()
streamed = {"ids": sorted(ids), "content": "".join(parts), "finish_reason": finish, "usage": usage, "chunks": chunks}

models = [m.id for m in client.models.list().data]
print(json.dumps({"plain": plain, "stream": streamed, "models": models}))
