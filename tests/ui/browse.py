"""The web UI in a real browser: headless Chromium driven by Selenium.

Usage: browse.py BASE USER PASSWORD AXE_JS SCREENSHOTS [ENVIRONMENTS]

Signs in with HTTP Basic (an Authorization header on every request, set
through the DevTools protocol), loads every page, follows the main flows
(search a package, open an image, read an import's custody chain, filter
the audit log; with ENVIRONMENTS=1, promote and roll back), saves a
screenshot of each page into SCREENSHOTS, and runs axe-core on each page,
failing on any serious or critical violation. Prints one ok/FAILED line
per check and a last line "RESULT <passed> <failed>".
"""

import base64
import json
import os
import sys
import traceback

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

BASE, USER, PASSWORD, AXE_JS, SHOTS = sys.argv[1:6]
ENVIRONMENTS = len(sys.argv) > 6 and sys.argv[6] == "1"
passed = 0
failed = 0


def check(label, condition, detail=""):
    global passed, failed
    if condition:
        passed += 1
        print(f"ok: {label}", flush=True)
    else:
        failed += 1
        print(f"FAILED: {label} {detail}", flush=True)


def attempt(label, step):
    """Runs one flow; an exception fails it with the traceback's last line."""
    try:
        step()
    except Exception as e:  # a failed flow is one failed check, not a crash
        check(label, False, f"({type(e).__name__}: {e})")
        traceback.print_exc(file=sys.stdout)


def browser(bypass_csp):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--window-size=1280,1000", "--disable-gpu"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(30)
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setExtraHTTPHeaders",
                           {"headers": {"Authorization": f"Basic {token}"}})
    if bypass_csp:
        driver.execute_cdp_cmd("Page.setBypassCSP", {"enabled": True})
    return driver


def follow(driver, element):
    """Clicks a link or a form's button and waits for the next page."""
    page = driver.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(driver, 15).until(expected_conditions.staleness_of(page))
    WebDriverWait(driver, 15).until(
        expected_conditions.presence_of_element_located((By.TAG_NAME, "h1")))


def rows_by_name(driver):
    """The environments table: first cell's text to the row's cells' texts."""
    rows = {}
    for row in driver.find_elements(By.CSS_SELECTOR, "main tbody tr"):
        cells = [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
        rows[cells[0]] = cells
    return rows


def text(driver):
    return driver.find_element(By.TAG_NAME, "main").text


PAGES = [
    ("overview", "/ui/", "Overview"),
    ("browse", "/ui/browse", "Browse"),
    ("npm", "/ui/browse/npm", "npm"),
    ("package", "/ui/browse/npm/left-pad", "left-pad"),
    ("image", "/ui/browse/oci/team/app", "team/app"),
    ("imports", "/ui/imports", "Imports"),
    ("audit", "/ui/audit", "Audit log"),
    ("documents", "/ui/documents", "SBOMs and drift"),
    ("environments", "/ui/environments", "Environments"),
]

driver = browser(bypass_csp=False)
try:
    # Every page loads under its own policy, with its stylesheet applied
    # (the policy lets it load) and no script anywhere.
    for name, path, heading in PAGES:
        def load(name=name, path=path, heading=heading):
            driver.get(BASE + path)
            h1 = driver.find_element(By.TAG_NAME, "h1").text
            band = driver.find_element(By.TAG_NAME, "header").value_of_css_property("background-color")
            scripts = driver.find_elements(By.TAG_NAME, "script")
            driver.save_screenshot(os.path.join(SHOTS, f"{name}.png"))
            check(f"{path} loads (h1 {h1!r}), styled, no script",
                  heading.lower() in h1.lower() and band == "rgba(243, 245, 247, 1)" and not scripts,
                  f"(h1 {h1!r}, header background {band}, {len(scripts)} scripts)")
        attempt(f"{path} loads", load)

    def overview():
        driver.get(BASE + "/ui/")
        body = text(driver)
        check("overview: the audit log verifies, the last import's custody, expiry of trust and TLS",
              "verified" in body and "1 hand-off recorded" in body and "Trusted root" in body
              and "TLS server certificate" in body and "Disk under the home" in body, body[:800])
    attempt("the overview", overview)

    def search():
        driver.get(BASE + "/ui/")
        box = driver.find_element(By.ID, "q")
        box.send_keys("left")
        follow(driver, driver.find_element(By.CSS_SELECTOR, "header form button"))
        check("search: the form lands on the results", "/ui/browse?q=left" in driver.current_url,
              driver.current_url)
        follow(driver, driver.find_element(By.LINK_TEXT, "left-pad"))
        body = text(driver)
        driver.save_screenshot(os.path.join(SHOTS, "search-result.png"))
        check("search: the package shows its install command and integrity",
              "npm install left-pad@1.3.0" in body and "sha512-" in body, body[:400])
    attempt("search a package", search)

    def image():
        driver.get(BASE + "/ui/browse/oci")
        follow(driver, driver.find_element(By.LINK_TEXT, "team/app"))
        body = text(driver)
        host = BASE.split("://", 1)[1]
        driver.save_screenshot(os.path.join(SHOTS, "image-open.png"))
        check("image: the tag's pull command and the manifest digest",
              f"docker pull {host}/team/app:1.0" in body and "@sha256:" in body, body[:400])
    attempt("open an image", image)

    def custody():
        driver.get(BASE + "/ui/imports")
        links = driver.find_elements(By.CSS_SELECTOR, "main table a[href^='/ui/imports/']")
        check("imports: the import is listed", len(links) >= 1, f"({len(links)} links)")
        follow(driver, links[0])
        body = text(driver)
        driver.save_screenshot(os.path.join(SHOTS, "custody.png"))
        check("custody: the chain shows the courier's hand-off to the site",
              "courier" in body and "site" in body and "seal 42" in body
              and "checked against the site's custody policy" in body, body[:600])
        check("custody: the import shows its changes", "added" in body and "removed" in body, body[:600])
    attempt("read an import's custody chain", custody)

    def audit():
        driver.get(BASE + "/ui/audit")
        body = text(driver)
        check("audit: the log verifies", "verified" in body and "does not verify" not in body, body[:300])
        follow(driver, driver.find_element(By.PARTIAL_LINK_TEXT, "import ("))
        rows = driver.find_elements(By.CSS_SELECTOR, "main tbody tr")
        events = {r.find_elements(By.TAG_NAME, "td")[2].text for r in rows}
        check("audit: filtered to imports", events == {"import"}, str(events))
    attempt("filter the audit log", audit)

    def escaped():
        driver.get(BASE + "/ui/browse?q=script")
        body = text(driver)
        try:
            driver.switch_to.alert
            alert = True
        except NoAlertPresentException:
            alert = False
        check("a key with markup is shown as text, not run",
              "<script>alert(1)</script>.txt" in body and not alert
              and not driver.find_elements(By.TAG_NAME, "script"), body[:300])
    attempt("escaping", escaped)

    def documents():
        driver.get(BASE + "/ui/documents")
        links = [a.get_attribute("href") for a in driver.find_elements(By.CSS_SELECTOR, "main a")]
        check("documents: the carried SBOMs are linked", any(l.endswith("/sbom/cyclonedx.json") for l in links),
              str(links))
    attempt("documents", documents)

    if ENVIRONMENTS:
        def promote_and_roll_back():
            driver.get(BASE + "/ui/environments")
            before = rows_by_name(driver)
            follow(driver, driver.find_element(
                By.CSS_SELECTOR, "form[action='/ui/environments/production/promote'] button"))
            body = text(driver)
            driver.save_screenshot(os.path.join(SHOTS, "promote-preview.png"))
            check("promote: the preview counts the changes", "Promoting changes" in body, body[:400])
            follow(driver, driver.find_element(By.CSS_SELECTOR, "main form button"))
            after = rows_by_name(driver)
            driver.save_screenshot(os.path.join(SHOTS, "promoted.png"))
            check("promote: production moved to the default's generation",
                  after["production"][1] == after["default"][1] != before["production"][1],
                  f"(before {before}, after {after})")
            follow(driver, driver.find_element(
                By.CSS_SELECTOR, "form[action='/ui/environments/production/rollback'] button"))
            back = rows_by_name(driver)
            driver.save_screenshot(os.path.join(SHOTS, "rolled-back.png"))
            check("rollback: production is back where it was",
                  back["production"][1] == before["production"][1], f"(now {back['production']})")
            driver.get(BASE + "/ui/audit?event=env-promote")
            check("promote: audited with the principal", USER in text(driver), text(driver)[:300])
            driver.get(BASE + "/ui/audit?event=env-rollback")
            check("rollback: audited with the principal", USER in text(driver), text(driver)[:300])
        attempt("promote and roll back", promote_and_roll_back)
finally:
    driver.quit()

# axe-core on every page. Its script is injected through the DevTools
# protocol, which the pages' policy (no script at all) would refuse, so
# this pass loads them with the policy bypassed; the pass above ran under it.
axe = open(AXE_JS, encoding="utf-8").read()
driver = browser(bypass_csp=True)


def violations(driver):
    driver.execute_script(axe)
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document).then(r => done(JSON.stringify(r.violations)), e => done('error: ' + e));")
    if result.startswith("error: "):
        raise RuntimeError(result)
    return json.loads(result)


try:
    # The check can fail: a page made with an image without text has a
    # critical violation.
    def broken():
        driver.get("data:text/html,<!DOCTYPE html><html lang=en><title>t</title><main><img src=x.png></main></html>")
        found = [(v["id"], v["impact"]) for v in violations(driver)]
        check("axe-core: finds the critical violation of a page made to have one",
              ("image-alt", "critical") in found, str(found))
    attempt("axe-core: a broken page", broken)
    for name, path, _ in PAGES + [("search", "/ui/browse?q=a", "")]:
        def audit_page(name=name, path=path):
            driver.get(BASE + path)
            found = violations(driver)
            bad = [f"{v['id']} ({v['impact']}, {len(v['nodes'])} nodes)"
                   for v in found if v["impact"] in ("serious", "critical")]
            with open(os.path.join(SHOTS, f"axe-{name}.json"), "w", encoding="utf-8") as f:
                json.dump(found, f, indent=1)
            check(f"axe-core: {path} has no serious or critical violation", not bad, ", ".join(bad))
        attempt(f"axe-core: {path}", audit_page)
finally:
    driver.quit()

print(f"RESULT {passed} {failed}")
