"""The chat page and the dashboard in a real headless Chromium against a live `proxima serve` on the default model.

Run by ops/test-live (which installs Debian's chromium and chromium-driver and a venv with selenium):

    python Tests/Live/pages_test.py --binary .build/release/proxima --model models/SmolLM2-135M-Instruct.Q4_1.gguf

It types into "Message", presses "Send", sees the streamed answer, presses "Good response" and finds the thumb in
the database; uses compare mode and "A is better" and finds the choice; opens the dashboard, starts a small phase,
sees its loss curve grow while it runs, sees the new version serve the chat, activates v0 (accepting the
confirmation) and sees the next answer come from v0. Both pages are loaded with the console collected; any error
or warning fails the test. With --screenshots DIR it saves both pages at desktop and phone width; it prints each
page's load time (navigation start to the load event, warm server).
"""

import argparse
import os
import shutil
import time

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from live_server import ADMIN_KEY, USER_KEY, LiveServer

def browser(chromium, chromedriver):
    options = Options()
    options.binary_location = chromium
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"]:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(chromedriver), options=options)


class Console:
    """Collects the browser console; any error or warning is a failure."""

    def __init__(self, driver):
        self.driver = driver
        self.problems = []

    def check(self, where):
        for entry in self.driver.get_log("browser"):
            if entry["level"] in ("SEVERE", "WARNING"):
                self.problems.append(f"{where}: {entry['level']} {entry['message']}")
        if self.problems:
            raise AssertionError("the console reported:\n" + "\n".join(self.problems))


def by_label(driver, label):
    return driver.find_elements(By.CSS_SELECTOR, f"[aria-label='{label}']")


def load_time_ms(driver):
    return driver.execute_script(
        "const n = performance.getEntriesByType('navigation')[0]; return n.loadEventEnd - n.startTime;")


def feedback_rows(server):
    return server.query("SELECT kind, value, source FROM feedback ORDER BY id")


def last_answer_meta(driver):
    metas = driver.find_elements(By.CSS_SELECTOR, ".turn.assistant .meta")
    return metas[-1].text if metas else ""


def send(driver, wait, text, expect_label):
    box = by_label(driver, "Message")[0]
    box.send_keys(text)
    before = len(by_label(driver, expect_label))
    by_label(driver, "Send")[0].click()
    # Thumbs and choices appear once the streamed answer is complete.
    wait.until(lambda d: len(by_label(d, expect_label)) > before)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--chromedriver", default=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    parser.add_argument("--screenshots", help="save the pages at desktop and phone width here")
    args = parser.parse_args()

    server = LiveServer(args.binary, args.model)
    base = server.base
    driver = browser(args.chromium, args.chromedriver)
    console = Console(driver)
    wait = WebDriverWait(driver, 180, poll_frequency=0.1)
    try:
        # The chat page: a warm load first (the timing printed is of the second), then the key in Settings.
        driver.get(base + "/")
        driver.get(base + "/")
        print(f"chat page loaded in {load_time_ms(driver):.0f} ms")
        console.check("chat page")
        driver.find_element(By.CSS_SELECTOR, "details.settings summary").click()
        by_label(driver, "API key")[0].send_keys(USER_KEY + Keys.TAB)

        send(driver, wait, "What is the capital of France?", "Good response")
        answer = driver.find_elements(By.CSS_SELECTOR, ".turn.assistant .bubble")[-1].text
        assert answer.strip(), "the streamed answer is empty"
        assert "v0" in last_answer_meta(driver), last_answer_meta(driver)
        print("answer:", answer[:80].replace("\n", " "))
        by_label(driver, "Good response")[-1].click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "[aria-label='Good response'][aria-pressed='true']"))
        wait.until(lambda d: ("thumb", "up", "user") in feedback_rows(server))

        by_label(driver, "Compare mode")[0].click()
        send(driver, wait, "Name a colour.", "A is better")
        assert len(driver.find_elements(By.CSS_SELECTOR, ".pair .bubble")) >= 2, "compare mode shows both samples"
        if args.screenshots:
            save_screenshots(driver, args.screenshots, "chat")
        by_label(driver, "A is better")[-1].click()
        wait.until(lambda d: ("choice", "0", "user") in feedback_rows(server))
        by_label(driver, "Compare mode")[0].click()   # back to one answer with thumbs
        console.check("chat page after chatting")

        # The dashboard: the admin key as an operator who typed it before finds it (kept in this browser; set
        # here from the chat page, same origin, so that the dashboard's first requests carry it), then a phase
        # started from the form.
        driver.execute_script("localStorage.setItem('proxima.admin-key', arguments[0]);", ADMIN_KEY)
        driver.get(base + "/dashboard")
        driver.get(base + "/dashboard")
        print(f"dashboard loaded in {load_time_ms(driver):.0f} ms")
        wait.until(lambda d: "serving now" in d.find_element(By.ID, "versions").text)
        console.check("dashboard")
        steps = by_label(driver, "Steps")[0]
        steps.clear()
        steps.send_keys("6")
        by_label(driver, "Other settings")[0].send_keys('{"seed": 7}')
        by_label(driver, "Start phase")[0].click()
        # The loss curve grows while the phase runs: at least two different numbers of points seen live.
        counts = set()
        deadline = time.time() + 300
        while time.time() < deadline:
            try:
                title = driver.find_element(By.CSS_SELECTOR, "#curve-loss .title").text
                dots = len(driver.find_elements(By.CSS_SELECTOR, "#curve-loss circle"))
            except StaleElementReferenceException:
                continue
            if "live" in title and dots > 0:
                counts.add(dots)
            if "succeeded" in driver.find_element(By.ID, "phases").text:
                break
            time.sleep(0.1)
        print("loss curve point counts seen while the phase ran:", sorted(counts))
        settings = server.query("SELECT json_extract(config, '$.steps'), json_extract(config, '$.seed') FROM phases")
        assert settings == [(6, 7)], f"the form's settings reach the phase: {settings}"
        assert len(counts) >= 2, f"the loss curve did not grow while the phase ran: {sorted(counts)}"
        wait.until(lambda d: "v1" in d.find_element(By.ID, "winrate-table").text
                   and by_label(d, "Activate v0"))
        console.check("dashboard during the phase")
        if args.screenshots:
            save_screenshots(driver, args.screenshots, "dashboard", desktop_height=1700)

        # v1 serves the chat now; activate v0 from the dashboard (confirming) and the chat answers from v0.
        driver.get(base + "/")
        send(driver, wait, "Say hello.", "Good response")
        assert "v1" in last_answer_meta(driver), last_answer_meta(driver)
        driver.get(base + "/dashboard")
        button = wait.until(lambda d: by_label(d, "Activate v0"))[0]
        button.click()
        alert = wait.until(lambda d: d.switch_to.alert)
        assert "v0" in alert.text, alert.text
        alert.accept()
        wait.until(lambda d: not by_label(d, "Activate v0") and by_label(d, "Activate v1"))
        driver.get(base + "/")
        send(driver, wait, "Say hello again.", "Good response")
        assert "v0" in last_answer_meta(driver), last_answer_meta(driver)
        console.check("after the rollback")
        server.ok = True
        print("browser test passed")
    finally:
        driver.quit()
        server.stop()


def save_screenshots(driver, directory, name, desktop_height=900):
    os.makedirs(directory, exist_ok=True)
    for label, (width, height) in {"desktop": (1280, desktop_height), "phone": (390, 844)}.items():
        driver.set_window_size(width, height)
        driver.execute_script("window.scrollTo(0, 0);")
        time.sleep(0.5)
        driver.save_screenshot(os.path.join(directory, f"{name}-{label}.png"))
    driver.set_window_size(1280, 900)


if __name__ == "__main__":
    main()
