"""Webhook delivery, as Telegram does it: once the bot has called setWebhook with a URL the test
routed (:meth:`WebhookDelivery.route_webhook`), every update is POSTed there as JSON with the
``X-Telegram-Bot-Api-Secret-Token`` header, up to ``max_connections`` at once, and retried while
the endpoint fails (a non-2xx answer or no connection). A test routes the public HTTPS URL the
bot registers to a local address (its reverse proxy in front of the bot's workers)."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from tests.botapi.entities import JSONDict
from tests.botapi.state import DEFAULT_ALLOWED_UPDATES, StubState

RETRY_FOR = 60.0  # seconds an update is retried before it is dropped (Telegram: longer)


@dataclass(frozen=True)
class Delivery:
    update_id: int
    status: int  # the endpoint's answer, 0 when it could not be reached
    attempts: int


class WebhookDelivery(StubState):
    """The stand-in's delivery side (started by the first route)."""

    def _webhook_init(self) -> None:
        self._routes: dict[str, str] = {}
        self._deliverer: threading.Thread | None = None
        self.deliveries: list[Delivery] = []

    def route_webhook(self, url: str, target: str) -> None:
        """POST the updates of webhook `url` (as the bot registers it) to `target`."""
        with self._lock:
            self._routes[url] = target
            if self._deliverer is None:
                self._deliverer = threading.Thread(
                    target=self._deliver_forever, name="BotApiStub-webhook", daemon=True
                )
                self._deliverer.start()
            self._updates_cv.notify_all()

    def _deliverable(self) -> bool:
        hook = self.webhook
        return bool(self._updates) and hook is not None and hook.get("url") in self._routes

    def _deliver_forever(self) -> None:
        gate: threading.BoundedSemaphore | None = None  # max_connections, for all updates
        with ThreadPoolExecutor(max_workers=100, thread_name_prefix="webhook-post") as pool:
            while True:
                with self._updates_cv:
                    while not self._stopped and not self._deliverable():
                        self._updates_cv.wait(0.5)
                    if self._stopped:
                        return
                    hook = dict(self.webhook or {})
                    allowed = frozenset(hook.get("allowed_updates") or DEFAULT_ALLOWED_UPDATES)
                    batch, self._updates = self._updates, []
                    self._delivered_up_to = max(self._delivered_up_to, batch[-1]["update_id"])
                    self._calls_cv.notify_all()
                if gate is None:
                    gate = threading.BoundedSemaphore(int(hook.get("max_connections") or 40))
                target = self._routes[str(hook["url"])]
                secret = hook.get("secret_token")
                for update in batch:
                    if (update.keys() - {"update_id"}) <= allowed:
                        gate.acquire()
                        pool.submit(self._post, target, secret, update, gate)

    def _post(
        self, target: str, secret: object, update: JSONDict, gate: threading.BoundedSemaphore
    ) -> None:
        headers = {"Content-Type": "application/json"}
        if secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = str(secret)
        body = json.dumps(update, ensure_ascii=False).encode()
        deadline = time.monotonic() + RETRY_FOR
        attempts, status = 0, 0
        try:
            while not self._stopped and time.monotonic() < deadline:
                attempts += 1
                request = urllib.request.Request(target, body, headers, method="POST")
                try:
                    with urllib.request.urlopen(request, timeout=30) as response:
                        status = int(response.status)
                except urllib.error.HTTPError as e:
                    status = int(e.code)
                except (OSError, urllib.error.URLError):
                    status = 0
                if 200 <= status < 300:
                    break
                time.sleep(min(0.05 * attempts, 1.0))
        finally:
            gate.release()
            with self._calls_cv:
                self.deliveries.append(Delivery(int(update["update_id"]), status, attempts))
                self._calls_cv.notify_all()
