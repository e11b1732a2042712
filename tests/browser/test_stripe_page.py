"""The production authorization page (Stripe.js mode) in Chromium, with Stripe.js faked by
Playwright at https://js.stripe.com/v3/: the page's Content-Security-Policy must let it and the
page's own script run, the page must hand Stripe.js the publishable key and the purchase's
client secret, and post back once `handleNextAction` has resolved; for an invoice, whose
off-session payment waits in `requires_payment_method`, once `confirmCardPayment` with the
attempt's card has resolved."""

from __future__ import annotations

from playwright.sync_api import Page, Route

# Records each call on the console (the page navigates away afterwards, so its own variables
# are gone by the time the test reads them) and resolves the bank's challenge.
FAKE_STRIPE_JS = """
window.Stripe = function (key) {
  console.log("Stripe " + key);
  return {
    handleNextAction: function (options) {
      console.log("handleNextAction " + JSON.stringify(options));
      return new Promise(function (resolve) {
        setTimeout(function () { resolve({ paymentIntent: { status: "succeeded" } }); }, 100);
      });
    },
    confirmCardPayment: function (clientSecret, data) {
      console.log("confirmCardPayment " + clientSecret + " " + JSON.stringify(data));
      return new Promise(function (resolve) {
        setTimeout(function () { resolve({ paymentIntent: { status: "succeeded" } }); }, 100);
      });
    },
  };
};
"""


def serve_fake_stripe(route: Route) -> None:
    route.fulfill(status=200, content_type="application/javascript", body=FAKE_STRIPE_JS)


def test_the_page_runs_the_challenge_with_the_client_secret_then_posts_and_shows_the_result(
    page: Page, stripe_page
) -> None:
    link = stripe_page.line("link:")
    events: list[str] = []
    page.on("console", lambda message: events.append(message.text))
    page.on("request", lambda request: events.append(f"{request.method} {request.url}"))
    page.route("https://js.stripe.com/v3/**", serve_fake_stripe)

    response = page.goto(link)
    page.get_by_role("heading", name="Payment complete").wait_for()

    assert response is not None and response.status == 200
    secret = stripe_page.line("client secret:")
    key = stripe_page.line("publishable key:")
    assert events == [
        f"GET {link}",
        "GET https://js.stripe.com/v3/",
        f"Stripe {key}",
        f'handleNextAction {{"clientSecret":"{secret}"}}',
        f"POST {link}",
    ], events
    assert "25.00 USD for Credit purchase has been paid." in page.inner_text("main")
    assert not [e for e in events if "Content Security Policy" in e], events


def test_an_invoice_page_confirms_the_payment_again_with_the_attempt_s_card_then_posts(
    page: Page, stripe_page
) -> None:
    link = stripe_page.line("invoice link:")
    events: list[str] = []
    page.on("console", lambda message: events.append(message.text))
    page.on("request", lambda request: events.append(f"{request.method} {request.url}"))
    page.route("https://js.stripe.com/v3/**", serve_fake_stripe)

    response = page.goto(link)
    page.get_by_role("heading", name="Payment complete").wait_for()

    assert response is not None and response.status == 200
    secret = stripe_page.line("invoice client secret:")
    card = stripe_page.line("invoice payment method:")
    assert events == [
        f"GET {link}",
        "GET https://js.stripe.com/v3/",
        f"Stripe {stripe_page.line('publishable key:')}",
        f'confirmCardPayment {secret} {{"payment_method":"{card}"}}',
        f"POST {link}",
    ], events
    assert "25.00 USD for Invoice for October 2026 has been paid." in page.inner_text("main")
    assert not [e for e in events if "Content Security Policy" in e], events


def test_the_page_says_so_when_stripe_js_cannot_load_and_posts_nothing(page: Page, stripe_page) -> None:
    link = stripe_page.line("link:")
    posts: list[str] = []
    page.on("request", lambda request: request.method == "POST" and posts.append(request.url))
    page.route("https://js.stripe.com/v3/**", lambda route: route.abort())

    page.goto(link)
    status = page.locator("#status")

    status.get_by_text("could not be loaded").wait_for()
    assert page.get_by_role("heading", name="Confirm your payment").is_visible()
    assert posts == []


def test_an_expired_link_shows_its_page_without_any_script(page: Page, stripe_page) -> None:
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))

    response = page.goto(stripe_page.line("expired link:"))

    assert response is not None and response.status == 410
    assert page.get_by_role("heading", name="This link has expired").is_visible()
    assert response.headers["content-security-policy"].startswith("default-src 'none';")
    assert requests == [stripe_page.line("expired link:")]
