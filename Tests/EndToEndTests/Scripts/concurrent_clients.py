# concurrent_clients.py: N clients at once (threads, each with its own openai client and connection), each
# asking a different question with its own seed; prints every response as JSON, in client order.
# Usage: concurrent_clients.py BASE_URL N MAX_TOKENS
import json
import sys
import threading

from openai import OpenAI

base_url, count, max_tokens = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
results = [None] * count
start = threading.Barrier(count)


def client_run(i):
    client = OpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=300)
    start.wait()
    completion = client.chat.completions.create(
        model="smollm2", messages=[{"role": "user", "content": f"Count from {i} to {i + 5}."}],
        max_tokens=max_tokens, seed=1000 + i)
    choice = completion.choices[0]
    results[i] = {"id": completion.id, "content": choice.message.content, "finish_reason": choice.finish_reason,
                  "completion_tokens": completion.usage.completion_tokens,
                  "pair_id": (completion.model_extra or {}).get("proxima", {}).get("pair_id")}


threads = [threading.Thread(target=client_run, args=(i,)) for i in range(count)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps(results))
