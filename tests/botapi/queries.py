"""The Bot API methods that answer what users asked for: answerCallbackQuery (a button press)
and answerInlineQuery (``@bot query``)."""

from __future__ import annotations

from tests.botapi.calls import bad
from tests.botapi.entities import JSONDict
from tests.botapi.formatting import formatted, inline_markup
from tests.botapi.state import StubState

_QUERY_INVALID = "query is too old and response timeout expired or query ID is invalid"


def _check_inline_result(result: object, seen: set[str]) -> None:
    if not isinstance(result, dict) or "type" not in result or "id" not in result:
        raise bad("can't parse InlineQueryResult JSON object")
    result_id = str(result["id"])
    if not 1 <= len(result_id.encode("utf-8")) <= 64:
        raise bad("RESULT_ID_INVALID")
    if result_id in seen:
        raise bad("RESULT_ID_DUPLICATE")
    seen.add(result_id)
    content = result.get("input_message_content")
    if isinstance(content, dict) and "message_text" in content:
        formatted(content, "message_text")
    inline_markup({"reply_markup": result.get("reply_markup")})


class QueryMethods(StubState):
    """Bot API methods (called with the lock held): params in, ``result`` out."""

    def _answer_callback_query(self, params: JSONDict) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        if query_id not in self._callback_queries or query_id in self.callback_answers:
            raise bad(_QUERY_INVALID)
        if len(str(params.get("text") or "")) > 200:
            raise bad("MESSAGE_TOO_LONG")
        self.callback_answers[query_id] = dict(params)
        return True

    def _answer_inline_query(self, params: JSONDict) -> bool:
        query_id = str(params.get("inline_query_id") or "")
        if query_id not in self._inline_queries or query_id in self.inline_answers:
            raise bad(_QUERY_INVALID)
        results = params.get("results")
        if not isinstance(results, list):
            raise bad("can't parse results JSON object")
        if len(results) > 50:
            raise bad("RESULTS_TOO_MUCH")
        seen: set[str] = set()
        for result in results:
            _check_inline_result(result, seen)
        self.inline_answers[query_id] = dict(params)
        return True
