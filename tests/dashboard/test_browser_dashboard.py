"""The dashboard in headless Chromium against a running service with real data.

Each test signs in with a token of one role, drives the screens like a user, checks what the
service recorded, and saves a screenshot of the screen into docs/screenshots/.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# The chart graph's Plotly traces, read in the page.
TRACES_JS = "() => { const gd = document.querySelector('#cc-graph .js-plotly-plot');"
HAS_POINTS_JS = TRACES_JS + " return !!(gd && gd.data && gd.data.some(t => t.meta === 'ok')); }"
SHOWS_VIOLATION_JS = """(ts) => {
  const gd = document.querySelector('#cc-graph .js-plotly-plot');
  if (!gd || !gd.data) return false;
  return gd.data.some(t => t.meta === 'beyond' && (t.x || []).some(
      (x, k) => String(x).startsWith(ts) && String(t.text[k]).includes('WE1')));
}"""


PARETO_BARS_JS = (
    "() => document.querySelector('#qc-pareto .js-plotly-plot').data.find(t => t.meta === 'bars').y"
)


TEXT_IS_JS = "([s, v]) => { const e = document.querySelector(s); return !!e && e.innerText === v; }"


def wait_text(page, selector: str, text: str, timeout: float = 15_000) -> None:
    """Wait until the element shows exactly ``text`` (it may not exist yet)."""
    page.wait_for_function(TEXT_IS_JS, arg=[selector, text], timeout=timeout)


def pick(page, dropdown: str, option: str) -> None:
    """Choose an option of a Dash 4 dropdown by its visible text."""
    page.click(f"#{dropdown}")
    page.locator("[role=option]", has_text=option).first.click()


def test_login_rejects_a_bad_token_and_shows_the_role(browser):
    page = browser.page()
    page.wait_for_selector("#login-token")
    screenshot(page, "login")
    page.fill("#login-token", "lw_not-a-token")
    page.click("#login-submit")
    page.wait_for_selector("#login-message .msg-error")
    assert "does not accept" in page.inner_text("#login-message")
    page.fill("#login-token", browser.stack.tokens["engineer"])
    page.press("#login-token", "Enter")
    page.wait_for_selector(".role-engineer")
    assert page.inner_text(".user-name") == "erik"
    # the token lives in this tab's session storage, not in a cookie
    stored = page.evaluate("() => sessionStorage.getItem('session')")
    assert browser.stack.tokens["engineer"] in stored
    assert page.context.cookies() == []


def test_overview_renders_every_characteristic_grouped_with_status(browser):
    page = browser.page("operator")
    page.wait_for_selector(".char-row")
    page.wait_for_function("() => document.querySelectorAll('.char-row').length === 6")
    keys = page.eval_on_selector_all(".char-row", "rows => rows.map(r => r.dataset.key)")
    assert keys == [s.key for s in sorted(browser.stack.seed["specs"], key=lambda s: s.key)]
    assert page.eval_on_selector_all(".line-card h2", "hs => hs.map(h => h.innerText)") == [
        "line1",
        "line2",
    ]
    with browser.stack.api("operator") as api:
        open_alarms = api.get("/api/v1/alarms", params={"state": "open"}).json()
    bore_alarms = sum(a["characteristic"] == "line1.op20.bore" for a in open_alarms)
    assert bore_alarms > 0  # the seeded shift opened alarms
    bore = page.locator('.char-row[data-key="line1.op20.bore"]')
    assert bore.locator(".status-alarm").count() == 1
    assert bore.locator("td").last.inner_text() == str(bore_alarms)
    seal = page.locator('.char-row[data-key="line2.op40.seal"]')
    assert seal.locator(".status-no_limits").count() == 1  # never approved
    assert page.inner_text("#kpi-open-alarms .kpi-value") == str(len(open_alarms))
    bands = page.eval_on_selector_all(".char-row .cpk", "b => b.map(x => x.className)")
    assert all(any(f"cpk-{c}" in b for c in ("red", "amber", "green")) for b in bands)
    assert page.locator(".char-row img.sparkline").count() == 6
    screenshot(page, "overview")
    pick(page, "ov-lines", "line2")
    page.wait_for_function("() => document.querySelectorAll('.char-row').length === 3")
    assert page.eval_on_selector_all(".line-card h2", "hs => hs.map(h => h.innerText)") == ["line2"]


def test_violation_appears_on_the_chart_within_two_seconds_of_ingest(browser):
    page = browser.page("operator", "/chart/line1.op30.torque")
    page.wait_for_function(HAS_POINTS_JS)
    assert page.inner_text("#cc-title").startswith("Bolt torque")
    page.wait_for_timeout(1500)  # a steady state: the page is polling, nothing new to draw
    now = datetime.now(UTC).replace(microsecond=0)
    record = {
        "characteristic": "line1.op30.torque",
        "ts": now.isoformat().replace("+00:00", "Z"),
        "value": 31.0,  # 15 sigma above the center
        "lot": "L-HOT",
        "source": "browser-test",
        "seq": 1,
    }
    with browser.stack.api("operator") as api:
        started = time.monotonic()
        answer = api.post("/api/v1/measurements", json={"measurements": [record]})
        assert answer.status_code == 200 and answer.json()["accepted"] == 1
        page.wait_for_function(
            SHOWS_VIOLATION_JS, arg=now.strftime("%Y-%m-%d %H:%M:%S"), polling=50, timeout=2000
        )
        elapsed = time.monotonic() - started
    print(f"violation on screen {elapsed * 1000:.0f} ms after the ingest request started")
    assert elapsed < 2.0
    hover = page.evaluate(
        TRACES_JS
        + " const t = gd.data.find(t => t.meta === 'beyond'); return t.text[t.text.length - 1]; }"
    )
    assert "WE1: 1 point beyond 3σ" in hover and "Lot: L-HOT" in hover and "Alarm #" in hover
    assert page.locator(".status-alarm").count() >= 1
    screenshot(page, "chart")


def test_chart_exports_png_and_csv_and_switches_window(browser):
    page = browser.page("operator", "/chart/line1.op20.bore")
    page.wait_for_function(HAS_POINTS_JS)
    with page.expect_download() as csv_download:
        page.click("#cc-csv")
    text = Path(csv_download.value.path()).read_text(encoding="utf-8").splitlines()
    assert text[0].startswith("i,ts,lot,n,stat,center,lcl,ucl,violations")
    assert len(text) - 1 == 150  # every subgroup of the seeded window
    assert any(",WE1" in line or " WE1" in line for line in text[1:])
    with page.expect_download() as png_download:
        page.click("#cc-png")
    assert png_download.value.suggested_filename == "line1.op20.bore.png"
    assert Path(png_download.value.path()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    before = page.evaluate(TRACES_JS + " return gd.data.find(t => t.meta === 'series').x.length; }")
    page.click("text=1 h")
    page.wait_for_function(
        TRACES_JS
        + " const s = gd.data.find(t => t.meta === 'series'); return s && s.x.length < "
        + str(before)
        + "; }"
    )
    assert page.locator("#cap-cpk").count() == 1 and page.locator("#cap-normality").count() == 1


def test_operator_acknowledges_an_alarm_with_cause_and_action(browser):
    page = browser.page("operator", "/alarms")
    page.wait_for_selector("#al-active-table")
    assert page.locator("#al-active-table button", has_text="Close").count() == 0  # engineers close
    row = page.locator("#al-active-table tr.alarm-open").first
    alarm_id = int(row.locator("td").first.inner_text().lstrip("#"))
    row.locator("button", has_text="Acknowledge").click()
    page.wait_for_selector("#al-form", state="visible")
    assert page.inner_text("#al-form-title") == f"ACKNOWLEDGE ALARM #{alarm_id}"
    pick(page, "al-cause", "Machine: tool wear")
    pick(page, "al-action", "Tool changed")
    page.fill("#al-note", "Insert chipped; replaced and first part measured")
    screenshot(page, "alarms-acknowledge")
    page.click("#al-submit")
    page.wait_for_selector("#al-feedback .msg-ok")
    assert page.inner_text("#al-feedback") == f"Alarm #{alarm_id} acknowledged."
    with browser.stack.api("operator") as api:
        alarm = api.get(f"/api/v1/alarms/{alarm_id}").json()
    assert alarm["state"] == "acknowledged"
    assert (alarm["cause"], alarm["action"]) == ("tool-wear", "tool-changed")
    assert alarm["acknowledged_by"] == "olga"
    assert alarm["note"] == "Insert chipped; replaced and first part measured"
    acked = page.locator(f'#al-active-table tr.alarm-acknowledged:has(td:text-is("#{alarm_id}"))')
    acked.wait_for()
    page.wait_for_function(
        "() => { const e = document.querySelector('#kpi-mtta .kpi-value');"
        " return !!e && e.innerText !== '—'; }"
    )
    screenshot(page, "alarms")


def test_engineer_picks_phase1_on_the_chart_and_approves_limits(browser):
    page = browser.page("engineer", "/limits/line2.op40.weight")
    page.wait_for_selector("#lm-history-table")
    page.wait_for_function(
        "() => { const gd = document.querySelector('#lm-graph .js-plotly-plot');"
        " return !!(gd && gd.data && gd.data.length); }"
    )
    # Drag a box across the first third of the chart: the phase I window.
    box = page.locator("#lm-graph .nsewdrag").first.bounding_box()
    y = box["y"] + box["height"] * 0.5
    page.mouse.move(box["x"] + box["width"] * 0.06, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.2, y + 20, steps=5)
    page.mouse.move(box["x"] + box["width"] * 0.38, y + 40, steps=5)
    page.mouse.up()
    page.wait_for_function("() => document.querySelector('#lm-from').value !== ''")
    start, end = page.input_value("#lm-from"), page.input_value("#lm-to")
    assert start < end
    page.fill("#lm-reason", "New insert grade from week 48")
    page.click("#lm-propose")
    page.wait_for_selector("#lm-would-flag")
    assert "flag" in page.inner_text("#lm-would-flag")
    approve = page.locator("#lm-approve")
    assert approve.inner_text() == "Approve version 2"
    page.wait_for_function(
        "() => { const gd = document.querySelector('#lm-preview .js-plotly-plot');"
        " return !!(gd && gd.data && gd.data.length); }"
    )
    page.mouse.move(5, 5)  # no hover label in the screenshot
    screenshot(page, "limits")
    approve.click()
    page.wait_for_selector("#lm-message .msg-ok")
    assert "Version 2 approved" in page.inner_text("#lm-message")
    page.wait_for_selector("#lm-history-table tr.vstate-row-active:has-text('v2')")
    with browser.stack.api("engineer") as api:
        versions = {
            v["version"]: v
            for v in api.get("/api/v1/characteristics/line2.op40.weight/limits").json()
        }
    assert versions[2]["current"] and not versions[1]["current"]
    assert versions[2]["approved_by"] == "erik"
    assert versions[2]["reason"] == "New insert grade from week 48"
    assert versions[2]["phase1"]["from"].startswith(start[:16].replace(" ", "T"))


def test_operator_sees_limits_read_only(browser):
    page = browser.page("operator", "/limits/line1.op20.bore")
    page.wait_for_selector("#lm-history-table")
    assert page.locator("#nav-limits").count() == 0
    assert page.locator("#lm-propose").count() == 0 and page.locator("#lm-approve").count() == 0
    assert "Only engineers" in page.inner_text(".proposal-card")


def test_language_switch_changes_every_label_and_persists(browser):
    page = browser.page("operator")
    page.wait_for_selector(".char-row")
    assert page.inner_text("h1") == "Plant overview"
    page.click("#lang-toggle")
    wait_text(page, "h1", "工厂总览")
    # the page and the navigation bar are separate callbacks: either may render first
    wait_text(page, "#nav-overview", "总览")
    wait_text(page, "#lang-toggle", "English")
    page.wait_for_selector(".char-row")
    assert "有报警" in page.inner_text(".overview")
    screenshot(page, "overview-zh")
    page.click("#nav-alarms")
    wait_text(page, "h1", "报警")
    page.reload()
    wait_text(page, "h1", "报警")
    page.click("#lang-toggle")
    wait_text(page, "h1", "Alarms")


def test_kiosk_cycles_through_the_chosen_charts_full_screen(browser):
    page = browser.page("operator", "/kiosk")
    page.wait_for_selector("#ks-keys input")
    href = page.get_attribute("#ks-start", "href")
    assert href.startswith("/kiosk?keys=")
    page.goto(
        browser.stack.dash_url + "/kiosk?keys=line1.op20.bore,line2.op40.weight&seconds=4&window=8h"
    )
    wait_text(page, "#ks-title", "Bore diameter")
    assert not page.locator("#topbar").is_visible()
    page.wait_for_function(
        "() => { const gd = document.querySelector('#ks-graph .js-plotly-plot');"
        " return !!(gd && gd.data && gd.data.length); }"
    )
    screenshot(page, "kiosk")
    wait_text(page, "#ks-title", "Fill weight", timeout=8000)


def test_manager_pareto_shows_the_top_defect_by_count_and_by_cost(browser, lw_quality):
    from lw_plant_seed import expected_cost

    count: dict[str, float] = {}
    cost: dict[str, float] = {}
    for record in lw_quality["defects"]:
        count[record["defect_code"]] = count.get(record["defect_code"], 0) + record["quantity"]
        cost[record["defect_code"]] = cost.get(record["defect_code"], 0.0) + expected_cost(record)
    top_count = max(count, key=count.__getitem__)
    top_cost = max(cost, key=cost.__getitem__)
    assert top_count != top_cost  # the seed makes the two Paretos disagree

    page = browser.page("manager", "/quality")
    pareto_js = (
        "(code) => { const gd = document.querySelector('#qc-pareto .js-plotly-plot');"
        " if (!gd || !gd.data) return false; const b = gd.data.find(t => t.meta === 'bars');"
        " return !!b && b.x[0] === code; }"
    )
    page.wait_for_function(pareto_js, arg=top_count)
    assert page.inner_text("#kpi-top-defect .kpi-value").startswith(top_count)
    bars = page.evaluate(PARETO_BARS_JS)
    assert bars[0] == count[top_count]
    trend = page.evaluate(
        "() => document.querySelector('#qc-trend .js-plotly-plot').data.map(t => t.meta)"
    )
    assert "group:scrap" in trend and "group:rework" in trend and "copq-share" in trend
    assert "spikes" in trend  # yesterday's scrap of bores on line 1
    assert page.locator("#qc-spikes .spike").count() >= 1
    screenshot(page, "quality")
    page.locator("#qc-measure label", has_text="Cost").click()
    page.wait_for_function(pareto_js, arg=top_cost)
    bars = page.evaluate(PARETO_BARS_JS)
    assert bars[0] == pytest.approx(cost[top_cost])


def test_quality_cost_is_hidden_from_operators(browser):
    page = browser.page("operator", "/quality")
    page.wait_for_selector(".msg-warn")
    assert "manager" in page.inner_text(".msg-warn").lower()
    assert page.locator("#nav-quality").count() == 0
