// Firefox smoke test of the staff UI: sign in, the recording view (words hydrate, a click
// seeks, an edit saves) and the page view (a hover outlines the box). Prints one JSON line.
// usage: node smoke.mjs BASE_URL USER PASSWORD ITEM_RECORDING ITEM_SCAN
import puppeteer from "puppeteer-core";

const [base, user, password, recording, scan] = process.argv.slice(2);
const browser = await puppeteer.launch({
  browser: "firefox",
  executablePath: process.env.FIREFOX || "/usr/bin/firefox-esr",
  headless: true,
  protocol: "webDriverBiDi",
});
const result = { errors: [] };
try {
  const page = await browser.newPage();
  page.on("pageerror", (e) => result.errors.push(String(e)));
  page.on("dialog", async (d) => { result.errors.push(`dialog: ${d.message()}`); await d.dismiss(); });
  await page.goto(`${base}/login`);
  await page.type("input[name=username]", user);
  await page.type("input[name=password]", password);
  await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
  result.signed_in = page.url().endsWith("/review");
  await page.goto(`${base}/items/${recording}/recording`);
  await page.waitForSelector("#player");
  await page.waitForFunction(() => document.getElementById("player").readyState >= 1, { timeout: 20000 });
  await page.waitForSelector(".seg .text span.low");
  result.low_words = await page.$$eval(".seg .text span.low", (xs) => xs.length);
  result.script_text_shown = await page.$$eval(".seg .text", (xs) => xs.some((x) => x.textContent.includes("<script>")));
  const spans = await page.$$(".seg:first-child .text span");
  await spans[7].click();
  await page.waitForFunction(() => Math.abs(document.getElementById("player").currentTime - 0.5) < 0.25, { timeout: 10000 });
  result.seeked = await page.$eval("#player", (p) => p.currentTime);
  await page.$eval("#player", (p) => p.pause());
  const first = await page.$eval(".seg", (s) => s.id);
  await page.click(`#${first} .text`, { count: 2 });
  await page.waitForSelector(`#${first} textarea.raw:not([hidden])`);
  await page.$eval(`#${first} textarea.raw`, (a) => { a.value = "火狐里改的一段"; });
  await page.click(`#${first} .e-save`);
  await page.waitForSelector(`#${first}.saved`);
  result.saved = await page.$eval(`#${first} .text`, (t) => t.textContent);
  await page.goto(`${base}/items/${scan}/pages/1`);
  await page.focus(".line[data-line='0'] .edit");  // selecting a line outlines its box
  await page.waitForSelector(".box.on[data-line='0']");
  result.box_highlight = true;
  result.width_ok = await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1);
} catch (e) {
  result.failure = String(e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
