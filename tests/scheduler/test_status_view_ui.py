"""The status view through the real Airflow api-server, and in a real browser.

One stack for the module (PostgreSQL + scheduler, triggerer, dag-processor, api-server) with no
Fernet key anywhere: the view reads statuses only. Three SimpleAuthManager users: ``ops`` (role
op: may read the sync DAG's runs and the tiktok_state connection), ``viewer`` (may read runs, not
connections) and ``admin``. The state store is filled directly; one run of the sync DAG exists so
its page has the view's tab (it is failed at once: nothing here needs it to run).
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import pytest

from tests.scripts import airflow_stack
from tests.state.stores import KEY_A, tokens
from tiktok_portability.contract import SYNC_DAG_ID
from tiktok_portability.state import StateStore

pytestmark = [pytest.mark.airflow, pytest.mark.postgres, pytest.mark.scheduler]

USERS = "admin:admin,ops:op,viewer:viewer"
VIEW = "/tiktok-status/"
# Where the UI routes the plugin's two external views (their url_route).
NAV_ENTRY = "/plugin/tiktok-users"
RUN_TAB = "/plugin/tiktok-users-of-run"


@pytest.fixture(scope="module")
def deployment():
    stack_module = airflow_stack()
    env = {"AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": USERS, "TIKTOK_FERNET_KEYS": ""}
    with stack_module.AirflowStack(extra_env=env, parallelism=2) as stack:
        run_id = stack.trigger(SYNC_DAG_ID, {"dry_run": True})
        stack.api("PATCH", f"/dags/{SYNC_DAG_ID}/dagRuns/{quote(run_id, safe='')}", json={"state": "failed"})
        # The test's own key writes tokens; the stack never sees it.
        store = StateStore.from_url(stack.state_url, fernet_keys=[KEY_A])
        store.upsert_grant("user-ok", ["portability.all.ongoing"], tokens("ok"))
        store.upsert_grant("user-reauth", ["portability.all.ongoing"], tokens("r"))
        store.mark_grant("user-reauth", "needs_reauth", "refresh token expired")
        store.upsert_grant("user-corrupt", ["portability.all.ongoing"], tokens("c"))
        store.save_run_plan(run_id, "2026-12-06", "sync", [["user-corrupt"]])
        failed = store.create_transfer("user-corrupt", run_id, ["all_data"], 4242)
        store.transition(failed.id, "failed", reason="archive_corrupt: CRC mismatch in activity.json")
        store.close()
        passwords = json.loads((stack.home / "simple_auth_manager_passwords.json").read_text())
        yield {"stack": stack, "run_id": run_id, "passwords": passwords}


def _token(deployment, user: str) -> str:
    resp = httpx.post(
        f"{deployment['stack'].api_url}/auth/token",
        json={"username": user, "password": deployment["passwords"][user]},
        timeout=30,
    )
    assert resp.status_code in (200, 201), resp.text
    return resp.json()["access_token"]


def _get(deployment, **kwargs) -> httpx.Response:
    return httpx.get(f"{deployment['stack'].api_url}{VIEW}", timeout=30, **kwargs)


def test_the_stack_serves_the_view_without_any_fernet_key(deployment):
    assert deployment["stack"].env["TIKTOK_FERNET_KEYS"] == ""
    resp = _get(deployment, headers={"Authorization": f"Bearer {_token(deployment, 'ops')}"})
    assert resp.status_code == 200, resp.text[:2000]
    assert "user-corrupt" in resp.text
    # The sign-in link to send a needs_reauth user points at this server's OAuth app.
    assert f"href='{deployment['stack'].api_url}/tiktok/oauth/start'" in resp.text


def test_without_a_session_the_view_is_401(deployment):
    resp = _get(deployment)
    assert resp.status_code == 401
    assert "user-corrupt" not in resp.text


def test_a_user_who_may_not_read_the_state_connection_gets_403(deployment):
    resp = _get(deployment, headers={"Authorization": f"Bearer {_token(deployment, 'viewer')}"})
    assert resp.status_code == 403
    assert "user-corrupt" not in resp.text


def test_a_forged_token_is_refused(deployment):
    resp = _get(deployment, headers={"Authorization": "Bearer eyJhbGciOiJIUzUxMiJ9.e30.forged"})
    assert resp.status_code in (401, 403)
    assert "user-corrupt" not in resp.text


def test_the_ui_session_cookie_opens_the_view_filtered_to_a_run(deployment):
    resp = _get(
        deployment,
        params={"run_id": deployment["run_id"], "reason": "archive_corrupt"},
        cookies={"_token": _token(deployment, "ops")},
    )
    assert resp.status_code == 200
    assert "CRC mismatch in activity.json" in resp.text
    assert "Re-sync with open_ids set to the user" in resp.text
    assert "user-reauth" not in resp.text


def test_the_ui_lists_the_view_in_its_navigation_and_on_run_pages(deployment):
    plugins = deployment["stack"].api("GET", "/plugins")["plugins"]
    views = {v["destination"]: v for p in plugins for v in p["external_views"]}
    assert views["nav"]["href"] == VIEW
    assert views["dag_run"]["href"] == VIEW + "?run_id={RUN_ID}"


# ---- the browser check ------------------------------------------------------------------------


def _shot(driver, path: Path) -> None:
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 0


def _on_page(url: str, route: str) -> bool:
    path = urlsplit(url).path.rstrip("/")
    return path == route or path.startswith(route + "/")


def _frame_without_run_filter(driver):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    for frame in driver.find_elements(By.CSS_SELECTOR, "iframe[title='TikTok users']"):
        try:
            if "run_id" not in (frame.get_attribute("src") or ""):
                return frame
        except StaleElementReferenceException:
            continue
    return False


@pytest.mark.browser
def test_ops_reach_who_failed_from_the_runs_page_and_open_the_trigger_form(deployment, chromium, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    stack, driver = deployment["stack"], chromium
    wait = WebDriverWait(driver, 30)
    driver.get(f"{stack.api_url}/")
    driver.find_element(By.NAME, "username").send_keys("ops")
    driver.find_element(By.NAME, "password").send_keys(deployment["passwords"]["ops"])
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(lambda d: "/auth/login" not in d.current_url)

    # The run's page -> its "TikTok users" tab: one click to who failed in that run, and why.
    driver.get(f"{stack.api_url}/dags/{SYNC_DAG_ID}/runs/{quote(deployment['run_id'], safe='')}")
    tab = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, f"a[href$='{RUN_TAB}']")))
    assert tab.text.strip() == "TikTok users"
    tab.click()
    wait.until(ec.frame_to_be_available_and_switch_to_it((By.CSS_SELECTOR, "iframe[title='TikTok users']")))
    row = driver.find_element(By.CSS_SELECTOR, "#transfers-table tr[data-transfer-id]")
    assert "user-corrupt" in row.text
    assert "archive_corrupt" in row.text
    assert "Re-sync with open_ids set to the user" in row.text
    driver.switch_to.default_content()
    _shot(driver, tmp_path / "1-run-tab.png")

    # The navigation entry, then a filter by reason.
    nav = driver.find_element(By.CSS_SELECTOR, f"a[href$='{NAV_ENTRY}']")
    assert nav.text.strip() == "TikTok users"
    nav.click()
    # The UI may append the frame's own path to the page's (…/plugin/tiktok-users/tiktok-status/).
    wait.until(lambda d: _on_page(d.current_url, NAV_ENTRY))
    # The run tab's frame (src with run_id) may linger while the router swaps in the nav entry's:
    # switch only to the frame of the view without a run filter.
    driver.switch_to.frame(wait.until(_frame_without_run_filter))
    wait.until(lambda d: d.find_element(By.ID, "run_id").get_attribute("value") == "")
    Select(driver.find_element(By.ID, "reason")).select_by_value("needs_reauth")
    driver.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click()
    wait.until(lambda d: "reason=needs_reauth" in d.execute_script("return location.search"))
    grants = [
        r.get_attribute("data-open-id")
        for r in driver.find_elements(By.CSS_SELECTOR, "#grants-table tr[data-open-id]")
    ]
    assert grants == ["user-reauth"]
    assert "/tiktok/oauth/start" in driver.find_element(By.CSS_SELECTOR, "#grants-table").text
    driver.switch_to.default_content()
    _shot(driver, tmp_path / "2-nav-needs-reauth.png")

    # The DAG's trigger form.
    driver.get(f"{stack.api_url}/dags/{SYNC_DAG_ID}")
    wait.until(ec.element_to_be_clickable((By.XPATH, "//button[normalize-space()='Trigger']"))).click()
    wait.until(lambda d: f"Trigger Dag - {SYNC_DAG_ID}" in d.find_element(By.TAG_NAME, "body").text)
    assert "Run Parameters" in driver.find_element(By.TAG_NAME, "body").text
    _shot(driver, tmp_path / "3-trigger-form.png")
