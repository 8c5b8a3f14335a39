"""Drive a running codexd with the official Anthropic Python SDK.

Run by tests/python_sdk.rs against codexd + the mock Codex upstream, once
per Claude tier (each reaches another Codex model, and haiku another lane):
    python tests/sdk/anthropic_sdk_check.py --base-url http://127.0.0.1:PORT [--model claude-haiku-4-5-20251001]
Each check prints PASS/FAIL; the exit code is the number of failures.
"""

import argparse
import sys
import traceback

import anthropic

MODEL = "claude-sonnet-4-5-20250929"
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def text_of(msg):
    """The message's text: reasoning models put a thinking block before it."""
    texts = [b for b in msg.content if b.type == "text"]
    assert len(texts) == 1, msg.content
    return texts[0].text


def check_non_stream(client):
    msg = client.messages.create(
        model=MODEL,
        max_tokens=256,
        extra_body={"temperature": 0.2, "metadata": {"user_id": "user_x_account__session_3b0e5d9c-1111-4222-8333-944455556666"}},
        system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": "ping"}],
    )
    assert msg.type == "message" and msg.role == "assistant", msg
    assert msg.model == MODEL, f"model not echoed: {msg.model}"
    assert msg.stop_reason == "end_turn", msg.stop_reason
    assert msg.content[-1].type == "text", msg.content
    assert "You said: ping" in text_of(msg), msg.content
    assert msg.usage.output_tokens > 0, msg.usage
    assert msg.usage.cache_read_input_tokens == 64, msg.usage
    assert msg.usage.input_tokens == 120 - 64, msg.usage


def check_stream(client):
    pieces = []
    with client.messages.stream(
        model=MODEL, max_tokens=256, messages=[{"role": "user", "content": "stream please"}]
    ) as stream:
        for text in stream.text_stream:
            pieces.append(text)
        final = stream.get_final_message()
    assert len(pieces) > 1, f"expected several deltas, got {pieces}"
    assert "".join(pieces) == text_of(final), (pieces, final.content)
    assert "You said: stream please" in text_of(final)
    assert final.stop_reason == "end_turn", final.stop_reason
    assert final.usage.output_tokens > 0


def check_tool_round_trip(client, stream):
    messages = [{"role": "user", "content": "What is the weather in Paris? Use the tool."}]
    kwargs = dict(model=MODEL, max_tokens=512, tools=[WEATHER_TOOL], messages=messages)
    if stream:
        with client.messages.stream(**kwargs) as s:
            first = s.get_final_message()
    else:
        first = client.messages.create(**kwargs)
    assert first.stop_reason == "tool_use", first.stop_reason
    uses = [b for b in first.content if b.type == "tool_use"]
    assert len(uses) == 1 and uses[0].name == "get_weather", first.content
    assert uses[0].input == {"city": "Paris"}, uses[0].input

    messages.append({"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]})
    messages.append(
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": uses[0].id, "content": "18C and sunny"}],
        }
    )
    kwargs["messages"] = messages
    if stream:
        with client.messages.stream(**kwargs) as s:
            second = s.get_final_message()
    else:
        second = client.messages.create(**kwargs)
    assert second.stop_reason == "end_turn", second.stop_reason
    assert "18C and sunny" in text_of(second), second.content


def check_thinking(client):
    kwargs = dict(
        model=MODEL,
        max_tokens=16000,
        thinking={"type": "enabled", "budget_tokens": 10000},
        messages=[{"role": "user", "content": "think first"}],
    )
    with client.messages.stream(**kwargs) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert "thinking" in kinds and "signature" in kinds, kinds
    thinking, text = final.content
    assert thinking.type == "thinking" and thinking.thinking == "Thinking about the greeting.", thinking
    assert thinking.signature.startswith("codexd.v1."), thinking.signature
    assert text.type == "text" and "You said: think first" in text.text, text
    # The signed thinking block goes back on the next turn without complaint.
    kwargs["messages"] = kwargs["messages"] + [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in final.content]},
        {"role": "user", "content": "again"},
    ]
    again = client.messages.create(**kwargs)
    assert again.content[-1].type == "text", again.content


def check_web_search(client):
    msg = client.messages.create(
        model=MODEL,
        max_tokens=1000,
        tools=[{"type": "web_search_20250305", "name": "web_search", "max_uses": 3}],
        messages=[{"role": "user", "content": "latest rust release?"}],
    )
    kinds = [b.type for b in msg.content if b.type != "thinking"]
    assert kinds == ["server_tool_use", "web_search_tool_result", "text"], kinds
    msg.content = [b for b in msg.content if b.type != "thinking"]
    assert msg.content[0].name == "web_search" and msg.content[0].input == {"query": "latest rust release"}
    assert msg.content[1].tool_use_id == msg.content[0].id
    assert msg.content[2].citations, "citations parsed"


def check_count_tokens(client):
    small = client.messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": "hello world"}])
    big = client.messages.count_tokens(
        model=MODEL, tools=[WEATHER_TOOL], messages=[{"role": "user", "content": "hello world " * 50}]
    )
    assert small.input_tokens > 0, small
    assert big.input_tokens > small.input_tokens + 90, (small, big)


def check_models(client):
    page = client.models.list()
    ids = [m.id for m in page.data]
    assert MODEL in ids, ids
    one = client.models.retrieve(MODEL)
    assert one.id == MODEL and " → GPT-" in one.display_name, one


def check_bad_request(client):
    try:
        client.messages.create(model=MODEL, max_tokens=10, messages="not a list")
    except anthropic.BadRequestError as err:
        assert err.status_code == 400
        body = err.body
        assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error", body
        assert "messages" in body["error"]["message"], body
        return
    raise AssertionError("expected a 400")


def main():
    global MODEL
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--model", default=MODEL)
    args = parser.parse_args()
    MODEL = args.model
    client = anthropic.Anthropic(base_url=args.base_url, api_key="unused-local-key", max_retries=0)
    checks = [
        ("non-stream text", lambda: check_non_stream(client)),
        ("stream text", lambda: check_stream(client)),
        ("tool round trip (non-stream)", lambda: check_tool_round_trip(client, stream=False)),
        ("tool round trip (stream)", lambda: check_tool_round_trip(client, stream=True)),
        ("thinking blocks with signatures", lambda: check_thinking(client)),
        ("web search blocks", lambda: check_web_search(client)),
        ("count_tokens", lambda: check_count_tokens(client)),
        ("models list and retrieve", lambda: check_models(client)),
        ("bad request is a typed 400", lambda: check_bad_request(client)),
    ]
    failures = 0
    for name, check in checks:
        try:
            check()
            print(f"PASS {name}")
        except Exception:  # noqa: BLE001 - report every failure
            failures += 1
            print(f"FAIL {name}")
            traceback.print_exc()
    print(f"sdk: {len(checks) - failures} passed, {failures} failed")
    sys.exit(failures)


if __name__ == "__main__":
    main()
