"""Load for the demo app's live test: one user class per target in DEMO_TARGETS
("name=http://host:port,..."), each browsing /api/products and now and then the probes, so
every target sees the same traffic and only its injected fault differs."""

import os

from locust import HttpUser, constant_throughput, task


def _targets():
    raw = os.environ.get("DEMO_TARGETS", "")
    pairs = [item.split("=", 1) for item in raw.split(",") if item]
    if not pairs or any(len(p) != 2 or not p[1].startswith("http://") for p in pairs):
        raise SystemExit(f"DEMO_TARGETS must be name=http://host:port,...; got {raw!r}")
    return pairs


class _Shopper(HttpUser):
    abstract = True
    # Two requests a second per user, when the app answers fast enough.
    wait_time = constant_throughput(2)

    @task(10)
    def products(self):
        # A 500 is the injected fault under test, not a failure of the load generator.
        with self.client.get("/api/products?limit=3", name="/api/products", catch_response=True) as response:
            if response.status_code in (200, 500):
                response.success()

    @task(1)
    def health(self):
        self.client.get("/health")


for _name, _host in _targets():
    globals()[f"Shopper_{_name}"] = type(f"Shopper_{_name}", (_Shopper,), {"host": _host, "abstract": False})
