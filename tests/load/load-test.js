// The spec's k6 load profile against the demo app (NodePort 30080), shipped for users with k6.
// NOT run in this repository's checks: k6 is AGPL-licensed and is not used here; the app-metric
// triggers are proven under load with Locust instead (docs/testing.md).
//
//   k6 run -e BASE_URL=http://<any node>:30080 tests/load/load-test.js
//
// Profile: ramp to 50 virtual users, spike to 200 (SmartScale should add nodes), cool down to
// 50, then idle at 0 long enough for scale-down (CPU < 30 % for 10 min, one node per 10 min).
// Thresholds: p95 below 2 s and errors below 5 %, the decider's own scale-up thresholds.
import http from 'k6/http';
import { check, sleep } from 'k6';

const BASE_URL = __ENV.BASE_URL || 'http://localhost:30080';

export const options = {
  scenarios: {
    shop: {
      executor: 'ramping-vus',
      startVUs: 0,
      stages: [
        { duration: '5m', target: 50 },   // ramp
        { duration: '10m', target: 50 },  // steady
        { duration: '2m', target: 200 },  // spike: pods go Pending, SmartScale scales up
        { duration: '10m', target: 200 }, // hold the spike while nodes join
        { duration: '5m', target: 50 },   // cool-down
        { duration: '5m', target: 0 },    // then quiet: scale-down follows, one node at a time
        { duration: '30m', target: 0 },
      ],
      gracefulRampDown: '30s',
    },
  },
  thresholds: {
    http_req_duration: ['p(95)<2000'],
    http_req_failed: ['rate<0.05'],
  },
};

export default function () {
  const res = http.get(`${BASE_URL}/api/products`, { tags: { path: '/api/products' } });
  check(res, { 'status is 200': (r) => r.status === 200 });
  sleep(Math.random() * 2 + 0.5);
}
