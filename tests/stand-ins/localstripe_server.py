"""localstripe on 127.0.0.1 with our compatibility layer: what real Stripe returns and
localstripe lacks, so the adapter (functions/stripe) is never bent to localstripe's gaps.

    python tests/stand-ins/localstripe_server.py --port N

Each patch below says which Stripe behaviour it supplies. State lives in memory only (one
instance per test run) and is gone when the process exits.
"""

import argparse
import hashlib
import logging
import os
import time
import urllib.parse

from aiohttp import web
import localstripe.resources as ls
import localstripe.server as server
import localstripe.webhooks as webhooks
from localstripe.errors import UserError

# The API version async-stripe 1.0.0-rc.10 pins (stripe_shared::VERSION); events carry it.
API_VERSION = os.environ.get('LOCALSTRIPE_API_VERSION', '2026-09-30.endive')
EXP_YEAR = time.gmtime().tm_year + 3

# --- The store, at a pace that does not slow down as it fills. localstripe pickled its whole
# store to /tmp/localstripe.pickle on every write, and listed objects of a type (which it does
# several times for every charge it exports, to sum its refunds) by scanning every key: a
# charge took 330 ms with 1,000 customers, far below the 20 requests/s the rate-limit benchmark
# drives. Nothing ever reads the file back (the state starts from scratch), so it is never
# written; and objects are indexed by type, in the store's own order. ------------------------
ls.Store.dump_to_disk = lambda self: None
ls.Store.try_load_from_disk = lambda self: None  # always from scratch
_by_type = {}  # 'charge' -> {'charge:ch_…': Charge}; keys without ':' are never listed


def _store_set(self, key, value):
    dict.__setitem__(self, key, value)
    type_, colon, _ = key.partition(':')
    if colon:
        _by_type.setdefault(type_, {})[key] = value


def _store_del(self, key):
    dict.__delitem__(self, key)
    _by_type.get(key.partition(':')[0], {}).pop(key, None)


def _store_clear(self):
    dict.clear(self)
    _by_type.clear()


ls.Store.__setitem__, ls.Store.__delitem__, ls.Store.clear = _store_set, _store_del, _store_clear


def _api_list_all(cls, url, limit=None, starting_after=None, **kwargs):
    if kwargs:
        raise UserError(400, 'Unexpected ' + ', '.join(kwargs.keys()))
    li = ls.List(url, limit=limit, starting_after=starting_after)
    li._list = list(_by_type.get(cls.object, {}).values())
    return li


ls.StripeObject._api_list_all = classmethod(_api_list_all)

# --- Errors: Stripe's error object carries `type` (card_error, ...) and more fields. ---------


def stripe_error(status, type_, message, **fields):
    error = UserError(status, message, {k: v for k, v in fields.items() if v is not None})
    error.body['error']['type'] = type_
    return error


def card_error(message, code, decline_code=None, payment_intent=None, charge=None):
    return stripe_error(402, 'card_error', message, code=code, decline_code=decline_code,
                        charge=charge, payment_intent=payment_intent)


def invalid(message, code=None, param=None):
    return stripe_error(400, 'invalid_request_error', message, code=code, param=param)


# --- Stripe's test PaymentMethod ids (https://docs.stripe.com/testing), as in ----------------
# functions/embedded/src/cards.rs: number, brand, funding, checks once attached
# (cvc, line1, zip), decline code at attach, decline code at charge, 3DS on every charge.
P, F, U = 'pass', 'fail', 'unavailable'
OK = (P, P, P)
CARDS = {
    'pm_card_visa': ('4242424242424242', 'visa', 'credit', OK, None, None, False),
    'pm_card_visa_debit': ('4000056655665556', 'visa', 'debit', OK, None, None, False),
    'pm_card_mastercard': ('5555555555554444', 'mastercard', 'credit', OK, None, None, False),
    'pm_card_mastercard_debit': ('5200828282828210', 'mastercard', 'debit', OK, None, None, False),
    'pm_card_mastercard_prepaid': ('5105105105105100', 'mastercard', 'prepaid', OK, None, None,
                                   False),
    'pm_card_amex': ('371449635398431', 'amex', 'credit', OK, None, None, False),
    'pm_card_discover': ('6011111111111117', 'discover', 'credit', OK, None, None, False),
    'pm_card_cvcCheckFail': ('4000000000000101', 'visa', 'credit', (F, P, P), None, None, False),
    'pm_card_avsFail': ('4000000000000010', 'visa', 'credit', (P, F, F), None, None, False),
    'pm_card_avsLine1Fail': ('4000000000000028', 'visa', 'credit', (P, F, P), None, None, False),
    'pm_card_avsZipFail': ('4000000000000036', 'visa', 'credit', (P, P, F), None, None, False),
    'pm_card_avsUnchecked': ('4000000000000044', 'visa', 'credit', (P, U, U), None, None, False),
    'pm_card_authenticationRequired': ('4000002760003184', 'visa', 'credit', OK, None, None,
                                       True),
    'pm_card_chargeCustomerFail': ('4000000000000341', 'visa', 'credit', OK, None,
                                   'generic_decline', False),
}
for _id, _number, _code in (
        ('pm_card_chargeDeclined', '4000000000000002', 'generic_decline'),
        ('pm_card_chargeDeclinedInsufficientFunds', '4000000000009995', 'insufficient_funds'),
        ('pm_card_chargeDeclinedLostCard', '4000000000009987', 'lost_card'),
        ('pm_card_chargeDeclinedStolenCard', '4000000000009979', 'stolen_card'),
        ('pm_card_chargeDeclinedExpiredCard', '4000000000000069', 'expired_card'),
        ('pm_card_chargeDeclinedIncorrectCvc', '4000000000000127', 'incorrect_cvc'),
        ('pm_card_chargeDeclinedProcessingError', '4000000000000119', 'processing_error'),
        ('pm_card_chargeDeclinedFraudulent', '4100000000000019', 'fraudulent'),
        ('pm_card_chargeDeclinedVelocityLimitExceeded', '4000000000006975',
         'card_velocity_exceeded')):
    CARDS[_id] = (_number, 'visa', 'credit', OK, _code, _code, False)
BY_NUMBER = {card[0]: card for card in CARDS.values()}
# Stripe reports these as the error `code` itself; the rest come as code `card_declined`.
OWN_CODES = {'expired_card', 'incorrect_cvc', 'processing_error'}


def decline_error(message, decline_code, **fields):
    code = decline_code if decline_code in OWN_CODES else 'card_declined'
    return card_error(message, code, decline_code, **fields)


def _card_of(pm):
    return BY_NUMBER.get(getattr(pm, '_card_number', None))


# Retrieving a test id gives a fresh PaymentMethod with that card's real brand, funding, last4,
# fingerprint (the same for the same number), a future expiry and no checks yet.
def _canonical_test_article(cls, id):
    card = CARDS.get(id)
    if card is None:
        return None
    number, brand, funding = card[:3]
    pm = ls.PaymentMethod(type='card', card=dict(number='4242424242424242', exp_month='12',
                                                 exp_year=str(EXP_YEAR), cvc='123'))
    pm._card_number = number
    pm.card.update(brand=brand, funding=funding, last4=number[-4:],
                   fingerprint=hashlib.sha1(number.encode()).hexdigest()[:16],
                   checks={'cvc_check': None, 'address_line1_check': None,
                           'address_postal_code_check': None})
    return pm


ls.PaymentMethod._try_get_canonical_test_article = classmethod(_canonical_test_article)
_requires_auth = ls.PaymentMethod._requires_authentication
ls.PaymentMethod._requires_authentication = \
    lambda self: _card_of(self)[6] if _card_of(self) else _requires_auth(self)

# Attach verifies the card: a decline is a 402 card_error with its decline_code; the checks
# the issuer made are reported; a detached PaymentMethod cannot be reused; one attached to
# another customer cannot be attached again.
_attach = ls.PaymentMethod._api_attach


def _api_attach(cls, id, customer=None, **kwargs):
    pm = cls._api_retrieve(id) if isinstance(id, str) else None
    if pm is not None and getattr(pm, '_detached', False):
        raise invalid('This PaymentMethod was previously used without being attached to a '
                      'Customer or was detached from a Customer, and may not be used again.')
    if pm is not None and pm.customer is not None:
        if pm.customer == customer:
            return pm
        raise invalid('The payment method you provided has already been attached to a '
                      'customer.')
    card = _card_of(pm) if pm is not None else None
    if card is not None and card[4] is not None:
        ls.Customer._api_retrieve(customer)  # 404 first, as Stripe
        raise decline_error('Your card was declined.', card[4])
    attached = _attach.__func__(cls, pm.id if pm is not None else id, customer=customer,
                                **kwargs)
    if card is not None:
        cvc, line1, zip_ = card[3]
        attached.card['checks'] = {'cvc_check': cvc, 'address_line1_check': line1,
                                   'address_postal_code_check': zip_}
    return attached


ls.PaymentMethod._api_attach = classmethod(_api_attach)

# Detaching an unattached PaymentMethod is a 400; a detached one is spent; it stops being its
# customer's default.
_detach = ls.PaymentMethod._api_detach


def _api_detach(cls, id, **kwargs):
    pm = cls._api_retrieve(id)
    if pm.customer is None:
        raise invalid('The payment method you provided is not attached to a customer so '
                      'detachment is impossible.')
    owner = ls.store.get('customer:' + pm.customer)
    if owner is not None and owner.invoice_settings.get('default_payment_method') == pm.id:
        owner.invoice_settings['default_payment_method'] = None
    pm._detached = True
    return _detach.__func__(cls, id, **kwargs)


ls.PaymentMethod._api_detach = classmethod(_api_detach)

# invoice_settings.default_payment_method must be attached to that customer.
_update_customer = ls.Customer._api_update


def _api_update_customer(cls, id, **data):
    default = (data.get('invoice_settings') or {}).get('default_payment_method')
    if default:
        pm = ls.PaymentMethod._api_retrieve(default)
        if pm.customer != id:
            raise invalid('The customer does not have a payment method with the ID %s. The '
                          'payment method must be attached to the customer.' % default,
                          param='invoice_settings[default_payment_method]')
    return _update_customer.__func__(cls, id, **data)


ls.Customer._api_update = classmethod(_api_update_customer)

# --- PaymentIntents ------------------------------------------------------------------------
# Accept `description` and `allowed_payment_method_types` (the current name of
# payment_method_types), which localstripe refuses.
_pi_init = ls.PaymentIntent.__init__


def _pi_init_compat(self, description=None, allowed_payment_method_types=None, **kwargs):
    if allowed_payment_method_types is not None:
        kwargs.setdefault('payment_method_types', allowed_payment_method_types)
    _pi_init(self, **kwargs)
    self.description = description
    self.payment_method_types = kwargs.get('payment_method_types') or ['card']
    self.confirmation_method = 'automatic'


ls.PaymentIntent.__init__ = _pi_init_compat
# Fields async-stripe requires that localstripe leaves out.
ls.PaymentIntent.amount_capturable = property(lambda self: 0)
ls.PaymentIntent.amount_received = property(
    lambda self: self.amount if self.status == 'succeeded' else 0)

_pi_status = ls.PaymentIntent.status.fget
ls.PaymentIntent.status = property(
    lambda self: 'canceled' if self._canceled
    else 'requires_payment_method' if getattr(self, '_auth_required', False)
    else _pi_status(self))

# last_payment_error is a full Stripe error object: type card_error and the decline code.
_pi_last_error = ls.PaymentIntent.last_payment_error.fget


def _last_payment_error(self):
    if getattr(self, '_auth_required', False):
        return {'type': 'card_error', 'code': 'authentication_required',
                'decline_code': 'authentication_required',
                'message': 'Your card was declined. This transaction requires authentication.'}
    error = _pi_last_error(self)
    if error is not None and error.get('code') == 'payment_intent_authentication_failure':
        error['type'] = 'invalid_request_error'  # Stripe's own failure, not the issuer's
    elif error is not None:
        decline = getattr(self.latest_charge, '_decline_code', None)
        error['type'] = 'card_error'
        if decline:
            error['decline_code'] = decline
            error['code'] = decline if decline in OWN_CODES else 'card_declined'
    return error


ls.PaymentIntent.last_payment_error = property(_last_payment_error)

# latest_charge is an id unless expanded.
_pi_export = ls.PaymentIntent._export


def _pi_export_compat(self, expand=None):
    exported = _pi_export(self, expand=expand)
    if isinstance(exported.get('latest_charge'), dict) and 'latest_charge' not in (expand or []):
        exported['latest_charge'] = exported['latest_charge']['id']
    exported.pop('charges', None)  # removed from the API long ago
    if 'drop_client_secret' in _faults:
        exported['client_secret'] = None
    return exported


ls.PaymentIntent._export = _pi_export_compat

# A PaymentMethod attached to another customer cannot be charged for this one, and a detached
# one is spent;
# off session, a card that needs 3-D Secure fails with 402 authentication_required and the
# intent waits in requires_payment_method.
_pi_create = ls.PaymentIntent._api_create


def _api_create_pi(cls, confirm=None, off_session=None, **data):
    customer, method = data.get('customer'), data.get('payment_method')
    if customer and method:
        pm = ls.PaymentMethod._api_retrieve(method)
        if getattr(pm, '_detached', False):
            raise invalid('The provided PaymentMethod was previously used with a PaymentIntent '
                          'without Customer attachment, shared with a connected account '
                          'without Customer attachment, or was detached from a Customer. It '
                          'may not be used again.', param='payment_method')
        if pm.customer is not None and pm.customer != customer:
            raise invalid('The provided PaymentMethod belongs to a different Customer.',
                          param='payment_method')
    intent = _pi_create.__func__(cls, confirm=confirm, off_session=off_session, **data)
    if ls.try_convert_to_bool(off_session) is True and intent.status == 'requires_action':
        intent.next_action = None
        intent._auth_required = True
        webhooks.schedule_webhook(ls.Event('payment_intent.payment_failed', intent))
        error = intent.last_payment_error
        raise card_error(error['message'], error['code'], error['decline_code'],
                         payment_intent=intent._export())
    if intent.status == 'requires_action':
        webhooks.schedule_webhook(ls.Event('payment_intent.requires_action', intent))
    return intent


ls.PaymentIntent._api_create = classmethod(_api_create_pi)

# A failed authentication sends payment_intent.payment_failed, as Stripe does (localstripe
# sent nothing).
_pi_authenticate = ls.PaymentIntent._api_authenticate


def _api_authenticate(cls, id, client_secret=None, success=False, **kwargs):
    # Off session the intent waits in requires_payment_method (see above). The cardholder
    # completes it on session: Stripe.js confirms it with the saved card (confirmCardPayment),
    # which brings it to requires_action, and the bank asks. localstripe's intent is still in
    # requires_action underneath, so authenticating it stands for that confirmation and the
    # cardholder's answer together.
    waiting = cls._api_retrieve(id)
    if getattr(waiting, '_auth_required', False):
        waiting._auth_required = False
        waiting.next_action = {'type': 'use_stripe_sdk',
                               'use_stripe_sdk': {'type': 'three_d_secure_redirect',
                                                  'stripe_js': ''}}
    intent = _pi_authenticate.__func__(cls, id, client_secret=client_secret, success=success,
                                       **kwargs)
    if ls.try_convert_to_bool(success) is not True:
        webhooks.schedule_webhook(ls.Event('payment_intent.payment_failed', intent))
    return intent


ls.PaymentIntent._api_authenticate = classmethod(_api_authenticate)


# Cancel: takes `cancellation_reason` and records when; a state Stripe cannot cancel from
# (succeeded, canceled, processing) is its 400 `payment_intent_unexpected_state`; sends
# payment_intent.canceled. localstripe refused the reason, answered a bare 400 and sent
# nothing.
def _api_cancel_pi(cls, id, cancellation_reason=None, **kwargs):
    intent = cls._api_retrieve(id)
    if intent.status not in ('requires_payment_method', 'requires_capture',
                             'requires_confirmation', 'requires_action'):
        raise invalid('You cannot cancel this PaymentIntent because it has a status of %s.'
                      % intent.status, code='payment_intent_unexpected_state')
    intent._canceled = True
    intent.next_action = None
    intent.canceled_at = int(time.time())
    intent.cancellation_reason = cancellation_reason
    webhooks.schedule_webhook(ls.Event('payment_intent.canceled', intent))
    return intent


ls.PaymentIntent._api_cancel = classmethod(_api_cancel_pi)

# A charge declined by the issuer: code, decline_code, type card_error and the intent.
_set_auth_failure = ls.Charge._set_auth_failure


def _set_auth_failure_compat(self):
    _set_auth_failure(self)
    card = _card_of(ls.PaymentMethod._api_retrieve(self.payment_method))
    self._decline_code = (card[5] if card else None) or 'generic_decline'


def _raise_failure(self):
    intent = (ls.PaymentIntent._api_retrieve(self.payment_intent)._export()
              if self.payment_intent else None)
    raise decline_error(self.failure_message, self._decline_code, charge=self.id,
                        payment_intent=intent)


ls.Charge._set_auth_failure = _set_auth_failure_compat
ls.Charge._raise_failure = _raise_failure

# --- SetupIntents: `allowed_payment_method_types`; the customer must exist (deleted = gone).
_seti_init = ls.SetupIntent.__init__


def _seti_init_compat(self, allowed_payment_method_types=None, customer=None, **kwargs):
    if customer is not None and ls.store.get('customer:' + str(customer)) is None:
        raise invalid("No such customer: '%s'" % customer, code='resource_missing',
                      param='customer')
    if allowed_payment_method_types is not None:
        kwargs.setdefault('payment_method_types', allowed_payment_method_types)
    _seti_init(self, customer=customer, **kwargs)


ls.SetupIntent.__init__ = _seti_init_compat

# --- Not found is `resource_missing` with Stripe's message. --------------------------------
_retrieve = ls.StripeObject._api_retrieve.__func__


def _api_retrieve(cls, id):
    try:
        return _retrieve(cls, id)
    except UserError as e:
        if e.code == 404:
            raise stripe_error(404, 'invalid_request_error', 'No such %s: %r' % (cls.object, id),
                               code='resource_missing', param='id')
        raise


ls.StripeObject._api_retrieve = classmethod(_api_retrieve)

# --- Events carry pending_webhooks and the API version the client pins. --------------------
_event_init = ls.Event.__init__


def _event_init_compat(self, type, data):
    _event_init(self, type, data)
    self.api_version = API_VERSION
    self.pending_webhooks = sum(1 for w in webhooks._webhooks.values()
                                if w.events is None or type in w.events)
    self.request = {'id': None, 'idempotency_key': None}


ls.Event.__init__ = _event_init_compat

# --- Idempotency-Key: a POST replays its first result (2xx or a 402 decline) with
# `Idempotent-Replayed: true`; the same key with other parameters is a 400 idempotency_error;
# while the first is running, the same key is a 409 idempotency_key_in_use. ---------------
_results = {}
_running = set()


@web.middleware
async def idempotency(request, handler):
    key = request.headers.get('Idempotency-Key')
    if request.method != 'POST' or not key:
        return await handler(request)
    scope = (request.headers.get('Authorization', ''), key)
    body = await request.read()
    # Stripe compares parameters, not their order on the wire: clients may encode a map
    # (metadata) in any order, so compare the sorted pairs.
    pairs = sorted(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
    params = hashlib.sha256(request.path.encode() + b'?' + repr(pairs).encode()).hexdigest()
    if scope in _running:
        return stripe_error(409, 'idempotency_error', 'There is currently another in-progress '
                            'request using this Stripe-Idempotency-Key.',
                            code='idempotency_key_in_use').to_response()
    if scope in _results:
        first_params, status, payload = _results[scope]
        if first_params != params:
            return stripe_error(400, 'idempotency_error', 'Keys for idempotent requests can '
                                'only be used with the same parameters they were first used '
                                'with.').to_response()
        return web.Response(status=status, body=payload, content_type='application/json',
                            headers={'Idempotent-Replayed': 'true', 'Idempotency-Key': key})
    _running.add(scope)
    try:
        try:
            response = await handler(request)
        except UserError as e:
            response = e.to_response()
        if response.status < 300 or response.status == 402:
            _results[scope] = (params, response.status, response.body)
        response.headers['Idempotency-Key'] = key
        return response
    finally:
        _running.discard(scope)


# --- Request log at the wire: GET /_compat/requests lists {method, path, key, at,
# idempotency_key} of every /v1 request received since the last DELETE /_compat/requests, so
# tests count Stripe calls as Stripe would see them (retries, replays and refusals included),
# not as the adapter thinks it made them; `at` is the arrival time (Unix microseconds) for
# rates at the wire. Paths only: query strings and bodies may carry customer data. ------------
_requests = []
# Faults a test switches on to see how the adapter takes an answer Stripe should never give:
# `PUT /_compat/faults/drop_client_secret` makes every PaymentIntent come without its client
# secret until `DELETE /_compat/faults/drop_client_secret`.
# `PUT /_compat/faults/rate_limit?times=N&retry_after=S&should_retry=true|false` answers the
# next N /v1 requests (default 1) with Stripe's 429 `rate_limit`, with `Retry-After: S` and
# `Stripe-Should-Retry` when given, before anything else sees them (as Stripe, the request is
# not run and its idempotency key not used); then the fault clears itself.
FAULTS = {'drop_client_secret', 'rate_limit'}
_faults = {}


def _rate_limit_params(query):
    times, retry_after = query.get('times', '1'), query.get('retry_after')
    should_retry = query.get('should_retry')
    if not times.isdigit() or int(times) < 1 or (retry_after is not None
                                                 and not retry_after.isdigit()):
        return None
    if should_retry not in (None, 'true', 'false'):
        return None
    return {'times': int(times), 'retry_after': retry_after, 'should_retry': should_retry}


def _rate_limited():
    fault = _faults['rate_limit']
    fault['times'] -= 1
    if fault['times'] == 0:
        del _faults['rate_limit']
    response = stripe_error(429, 'invalid_request_error', 'Request rate limit exceeded.',
                            code='rate_limit').to_response()
    if fault['retry_after'] is not None:
        response.headers['Retry-After'] = fault['retry_after']
    if fault['should_retry'] is not None:
        response.headers['Stripe-Should-Retry'] = fault['should_retry']
    return response


@web.middleware
async def compat_controls(request, handler):
    # Answered here, ahead of localstripe's auth (like its own /_config routes, no key needed).
    if request.path == '/_compat/requests':
        if request.method == 'GET':
            return web.json_response(_requests)
        if request.method == 'DELETE':
            _requests.clear()
            return web.Response(status=204)
        return web.Response(status=405)
    if request.path.startswith('/_compat/faults/'):
        fault = request.path.rsplit('/', 1)[1]
        if fault not in FAULTS:
            return web.Response(status=404)
        if request.method == 'PUT':
            params = _rate_limit_params(request.query) if fault == 'rate_limit' else {}
            if params is None:
                return web.Response(status=400)
            _faults[fault] = params
        elif request.method == 'DELETE':
            _faults.pop(fault, None)
        else:
            return web.Response(status=405)
        return web.Response(status=204)
    if request.path in ('/_compat/events', '/_compat/card_updater'):
        try:
            return await compat_webhook_routes(request)
        except UserError as e:
            return e.to_response()
    if request.path.startswith('/v1/'):
        # Which API key made it, as a digest (never the key), so tests sharing this server can
        # count their own requests.
        key = request.headers.get('Authorization', '').removeprefix('Bearer ')
        _requests.append({'method': request.method, 'path': request.path,
                          'key': hashlib.sha256(key.encode()).hexdigest()[:12],
                          'at': time.time_ns() // 1_000,
                          'idempotency_key': request.headers.get('Idempotency-Key')})
        if 'rate_limit' in _faults:
            return _rate_limited()
    return await handler(request)


# --- Webhook events for tests. ----------------------------------------------------------------
# `GET /_compat/events?payment_intent=pi_…` lists the events recorded about one PaymentIntent,
# oldest first, each exactly as `GET /v1/events` returns it (Stripe's own list has no such
# filter and is newest first). `POST /_compat/card_updater {payment_method, exp_month,
# exp_year}` (JSON or form) plays the card network's updater: as on Stripe, only a card saved
# to a customer is updated; it gets the new expiry, `payment_method.automatically_updated` is
# recorded (and sent to registered webhooks) with the PaymentMethod as `data.object` and the
# old expiry as `data.previous_attributes`, and the event is the answer.
EXPIRY_YEARS = range(2000, 2100)


def _events_about(payment_intent):
    return [event._export() for key, event in list(ls.store.items())
            if key.startswith('event:')
            and event.data['object'].get('object') == 'payment_intent'
            and event.data['object'].get('id') == payment_intent]


def _int_param(data, name, allowed):
    try:
        value = int(str(data.get(name)))
    except ValueError:
        value = None
    if value not in allowed:
        raise invalid('Invalid %s.' % name, param=name)
    return value


async def _card_updater(request):
    data = await server.get_post_data(request) or {}
    method = data.get('payment_method')
    if not isinstance(method, str) or not method.startswith('pm_'):
        raise invalid('Missing payment_method.', param='payment_method')
    exp_month = _int_param(data, 'exp_month', range(1, 13))
    exp_year = _int_param(data, 'exp_year', EXPIRY_YEARS)
    pm = ls.PaymentMethod._api_retrieve(method)
    if pm.type != 'card' or pm.customer is None or getattr(pm, '_detached', False):
        raise invalid('The card updater only updates cards saved to a customer.',
                      param='payment_method')
    previous = {'exp_month': pm.card['exp_month'], 'exp_year': pm.card['exp_year']}
    pm.card['exp_month'], pm.card['exp_year'] = exp_month, exp_year
    event = ls.Event('payment_method.automatically_updated', pm)
    event.data['previous_attributes'] = {'card': previous}
    webhooks.schedule_webhook(event)
    return web.json_response(event._export())


async def compat_webhook_routes(request):
    if request.path == '/_compat/events':
        if request.method != 'GET':
            return web.Response(status=405)
        payment_intent = request.query.get('payment_intent')
        if not payment_intent:
            raise invalid('Missing payment_intent.', param='payment_intent')
        return web.json_response({'object': 'list', 'url': '/_compat/events',
                                  'has_more': False, 'data': _events_about(payment_intent)})
    if request.method != 'POST':
        return web.Response(status=405)
    return await _card_updater(request)


# localstripe bound its extra routes (attach, detach, cancel, _authenticate) to the original
# functions at import time, so the patched ones are routed here.
OVERRIDES = {
    ('POST', url): server.api_extra(func, url) for url, func in (
        ('/v1/payment_methods/{id}/attach', ls.PaymentMethod._api_attach),
        ('/v1/payment_methods/{id}/detach', ls.PaymentMethod._api_detach),
        ('/v1/payment_intents/{id}/cancel', ls.PaymentIntent._api_cancel),
        ('/v1/payment_intents/{id}/_authenticate', ls.PaymentIntent._api_authenticate))}


@web.middleware
async def patched_routes(request, handler):
    route = request.match_info.route.resource
    key = (request.method, route.canonical if route is not None else None)
    return await OVERRIDES.get(key, handler)(request)


# Outermost, so the log sees every request, including those localstripe's own auth refuses.
server.app.middlewares.insert(0, compat_controls)
server.app.middlewares.append(idempotency)
server.app.middlewares.append(patched_routes)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--port', type=int, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)  # access log: method, path, status; no bodies
    web.run_app(server.app, host='127.0.0.1', port=args.port, print=None)


if __name__ == '__main__':
    main()
