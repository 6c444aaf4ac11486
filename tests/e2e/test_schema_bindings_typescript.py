"""The TypeScript code bindings under the real compiler: `tsc --strict --noEmit` accepts the
bindings of every schema of `tests.helpers.schema_samples` (and docs/schemas.md's example
using one), and a program using them compiles and runs under node, its type guards taking
every event of their type and refusing broken ones.

`tsc` comes from the npm registry (`.ci/run` installs it; `tests.helpers.typescript`).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from gateway.schemas.bindings import generate_bindings, write_bindings
from tests.helpers.schema_samples import DETAIL_TYPE_NAMES, docs_example, events_by_group, schemas
from tests.helpers.typescript import require_node, require_tsc

pytestmark = pytest.mark.e2e


def test_the_typescript_bindings_type_check_and_a_program_using_them_runs(tmp_path: Path) -> None:
    tsc = require_tsc()
    node = require_node()
    imports: list[str] = []
    checks: list[str] = []
    for i, ((source, detail_type), schema) in enumerate(schemas().items()):
        files = generate_bindings(schema, source=source, detail_type=detail_type, language="typescript")
        [(path, _)] = files.items()
        write_bindings(files, tmp_path)
        imports.append(f'import * as b{i} from "./{path.removesuffix(".ts")}";')
        events = events_by_group()[source, detail_type]
        name = json.dumps(f"{source} {detail_type}")
        checks.append(f"check({name}, {json.dumps(events)}, b{i}.isAWSEvent, b{i}.parse);")
    for detail_type, _ in DETAIL_TYPE_NAMES:  # type names that are TypeScript's built-in ones
        schema = {"type": "object", "properties": {"object": {"type": "object", "properties": {}}}}
        write_bindings(
            generate_bindings(schema, source="acme", detail_type=detail_type, language="typescript"), tmp_path
        )
    # a detail that is no object, under names that would end a comment
    odd = generate_bindings(
        {"type": ["string", "null"]}, source="odd*/\n.x", detail_type="*/ x", language="typescript"
    )
    write_bindings(odd, tmp_path)
    (tmp_path / "docs_example.ts").write_text("declare const body: string;\n" + docs_example("ts"))
    bindings_files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.ts"))
    strict = [tsc, "--strict", "--noEmit", "--noUnusedLocals", "--target", "es2017", "--module", "commonjs"]
    result = subprocess.run(
        [*strict, *bindings_files], check=False, cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr

    program = tmp_path / "main.ts"
    program.write_text(
        "\n".join(imports)
        + """
import { OrderLineItemsUpdated } from "./schema/hookgate/acme/orderlineitemsupdated/index";
import * as refunds from "./schema/hookgate/acme/refundissuedv2/index";

let total = 0;
type Guard = (v: unknown) => boolean;
function check(name: string, events: unknown[], guard: Guard, parse: (t: string) => unknown) {
  for (const event of events) {
    if (!guard(event)) throw new Error(`${name}: the guard refused an event`);
    parse(JSON.stringify(event));
    const broken = { ...(event as object), detail: "not an object" };
    if (guard(broken)) throw new Error(`${name}: the guard took a broken event`);
    total += 1;
  }
}
"""
        + "\n".join(checks)
        + """
const order: OrderLineItemsUpdated = b0_orders();
function b0_orders(): OrderLineItemsUpdated {
  return {
    object: "order", type: "retail", class: null, from: "shop", import: true, default: 1,
    "x-request-id": "r", "2fa": false, amount: 1, note: null, matrix: [[1]],
    lines: [{ sku: "a", tags: [["x"]], qty: 1 }], shipping: null, cancelled_at: null,
  };
}
const refund: refunds.RefundIssuedV2 = {
  status: "failed", money: { amount: 1, currency: "eur" }, labels: { a: "b" },
  meta: { trace: "t", n: 1 }, point: [1, 2],
};
const closed = { ...refund, closed: { a: 1, b: 2 } };
if (refunds.isRefundIssuedV2(closed)) throw new Error("a closed object took an extra key");
const badMap = { ...refund, labels: { a: 1 } };
if (refunds.isRefundIssuedV2(badMap)) throw new Error("a map took a value of the wrong type");
const badEnum = { ...refund, status: "unknown" };
if (refunds.isRefundIssuedV2(badEnum)) throw new Error("an enum took another value");
console.log(`${total} ${order.class} ${order["x-request-id"]} ${refund.money.currency}`);
"""
    )
    compiled = subprocess.run(
        [tsc, "--strict", "--target", "es2017", "--module", "commonjs", "--outDir", "out", "main.ts"],
        check=False,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    ran = subprocess.run(
        [node, "out/main.js"], check=False, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert ran.returncode == 0, ran.stderr
    total = sum(len(events) for events in events_by_group().values())
    assert ran.stdout.split() == [str(total), "null", "r", "eur"]
