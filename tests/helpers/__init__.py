"""Helpers shared by the test suites, a module per theme. The conftest files hold only
fixtures, and no test module imports another.

* `admin`: a real `hookgate serve` with admin API tokens, on SQLite or PostgreSQL;
* `aws`: a local moto server, an offline AWS environment, Lambda events and invocations;
* `aws_stub`: a local server for the AWS operations moto does not answer here, from
  botocore's service models (Lambda's `Invoke`, Step Functions' `StartSyncExecution`,
  the `schemas` registry's operations);
* `deploy`: the deployment files read as the tests check them;
* `edge`: the ASGI app in-process and what the functional tests send it;
* `eventbridge`: a fake EventBridge (and S3) behind the real botocore client;
* `schema_registry`: an EventBridge schema registry (the `schemas` API) on `aws_stub`;
* `served`: a real `hookgate serve` process and signed Stripe deliveries to send it.

The connector catalogue (`tests/catalogue.py`), the fakes of the unit tests
(`tests/unit/_fakes.py`: the test clock `NOW`, `FakeClock`, stored events) and their
connector support (`tests/unit/_support.py`, `tests/unit/_postgres.py`) stay beside the
tests that use them most.
"""
