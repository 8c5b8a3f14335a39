#!/usr/bin/env python3
"""Streaming tool round trip against a running codexd (Python stdlib only).

    python3 scripts/tool_calling_smoke.py [--base-url http://127.0.0.1:19080] [--model claude-sonnet-4-5]

Turn 1 offers a tool and expects a streamed tool_use; turn 2 sends the
tool_result and expects a streamed final text. Prints PASS or FAIL with the
reason; exits 0 on PASS, 1 on FAIL.
"""

import argparse
import json
import sys
import urllib.error
import urllib.request

TOOL = {
    "name": "get_weather",
    "description": "Get the current weather for a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string", "description": "City name"}},
        "required": ["city"],
    },
}


class SmokeFailure(Exception):
    pass


def stream_message(base_url, body, timeout):
    """POST a streaming request; return the message assembled from its SSE events."""
    request = urllib.request.Request(
        base_url.rstrip("/") + "/v1/messages",
        data=json.dumps(body).encode(),
        headers={
            "content-type": "application/json",
            "anthropic-version": "2023-06-01",
            "x-api-key": "smoke-test",
        },
        method="POST",
    )
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        raise SmokeFailure(f"HTTP {err.code}: {err.read().decode(errors='replace')}") from None
    except urllib.error.URLError as err:
        raise SmokeFailure(f"cannot reach {base_url}: {err.reason}") from None

    message, blocks, event = None, {}, None
    with response:
        for raw in response:
            line = raw.decode().rstrip("\r\n")
            if line.startswith("event:"):
                event = line[len("event:"):].strip()
            elif line.startswith("data:"):
                data = json.loads(line[len("data:"):])
                if data.get("type") != event:
                    raise SmokeFailure(f"event name {event!r} does not match data type {data.get('type')!r}")
                message = apply(event, data, message, blocks)
    if message is None or not message.get("_stopped"):
        raise SmokeFailure("stream ended without message_stop")
    return message


def apply(event, data, message, blocks):
    if event == "message_start":
        return dict(data["message"], content=[])
    if message is None and event not in ("ping", "error"):
        raise SmokeFailure(f"{event} before message_start")
    if event == "content_block_start":
        index = data["index"]
        if index != len(message["content"]):
            raise SmokeFailure(f"block index {index} out of order")
        block = dict(data["content_block"])
        block["_json"] = ""
        message["content"].append(block)
        blocks[index] = block
    elif event == "content_block_delta":
        block = blocks.get(data["index"])
        if block is None:
            raise SmokeFailure(f"delta for unknown block {data['index']}")
        delta = data["delta"]
        if delta["type"] == "text_delta":
            block["text"] += delta["text"]
        elif delta["type"] == "input_json_delta":
            block["_json"] += delta["partial_json"]
    elif event == "content_block_stop":
        block = blocks[data["index"]]
        if block["type"] == "tool_use":
            block["input"] = json.loads(block["_json"] or "{}")
    elif event == "message_delta":
        message["stop_reason"] = data["delta"]["stop_reason"]
    elif event == "message_stop":
        message["_stopped"] = True
    elif event == "error":
        raise SmokeFailure(f"error event: {data['error']}")
    return message


def run(base_url, model, timeout):
    messages = [{"role": "user", "content": "What's the weather in Paris? Use the get_weather tool."}]
    body = {"model": model, "max_tokens": 1024, "stream": True, "tools": [TOOL], "messages": messages}
    first = stream_message(base_url, body, timeout)
    if first.get("stop_reason") != "tool_use":
        raise SmokeFailure(f"turn 1: expected stop_reason tool_use, got {first.get('stop_reason')}")
    uses = [b for b in first["content"] if b["type"] == "tool_use"]
    if not uses:
        raise SmokeFailure("turn 1: no tool_use block")
    use = uses[0]
    if use["name"] != "get_weather" or "city" not in use["input"]:
        raise SmokeFailure(f"turn 1: unexpected tool call {use['name']}({use['input']})")

    assistant = [{k: v for k, v in b.items() if not k.startswith("_")} for b in first["content"]]
    messages.append({"role": "assistant", "content": assistant})
    messages.append(
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use["id"], "content": "18C and sunny"}]}
    )
    second = stream_message(base_url, dict(body, messages=messages), timeout)
    if second.get("stop_reason") != "end_turn":
        raise SmokeFailure(f"turn 2: expected end_turn, got {second.get('stop_reason')}")
    text = "".join(b.get("text", "") for b in second["content"] if b["type"] == "text")
    if not text.strip():
        raise SmokeFailure("turn 2: empty final text")
    return use, text


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default="http://127.0.0.1:19080")
    parser.add_argument("--model", default="claude-sonnet-4-5-20250929")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    args = parser.parse_args()
    try:
        use, text = run(args.base_url, args.model, args.timeout)
    except SmokeFailure as err:
        print(f"FAIL: {err}")
        return 1
    print(f"PASS: tool {use['name']}({json.dumps(use['input'])}) then text {text.strip()[:80]!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
