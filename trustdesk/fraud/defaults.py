"""The rule set every new merchant starts with (version 1), until it stores its own.

Weights are chosen so that one strong signal (a known-fraud e-mail, address or device) makes an
order 高 on its own, two medium signals make it 中, and a repeat customer with no signal
against them is 信頼性高. A known-fraud card forces 高 whatever else the order shows. What other
merchants saw counts only as the coarse ``elsewhere`` signal (several other merchants, seed 004
§37), never as a number of their orders.
"""

from __future__ import annotations

from trustdesk.fraud.rules import HIGH, Rule, RuleSet, Thresholds

DEFAULT_RULE_SET = RuleSet(
    rules=(
        Rule("known_card", "known.card", band=HIGH, description="Card reported in fraud"),
        Rule("known_email", "known.email", 60, description="E-mail in the known-fraud list"),
        Rule("known_address", "known.shipping_address", 60, description="Ships to a known address"),
        Rule("known_device", "known.device", 60, description="Device seen in fraud"),
        Rule("known_phone", "known.phone", 40, description="Phone in the known-fraud list"),
        Rule("known_ip", "known.ip", 20, description="IP address seen in fraud"),
        Rule(
            "email_burst",
            "velocity.email.h1 >= 3 || velocity.email.elsewhere_h1",
            30,
            description="Three or more orders with this e-mail in an hour here, or orders with "
            "it at several other merchants within the hour",
        ),
        Rule(
            "card_testing",
            "velocity.card.d1 >= 5 || velocity.card.elsewhere_d1",
            40,
            description="The same card on five or more orders here in a day, or at several "
            "other merchants within the day",
        ),
        Rule(
            "address_burst",
            "velocity.address.d1 >= 5 || velocity.address.elsewhere_d1",
            25,
            description="Five or more orders to this address here in a day, or orders to it at "
            "several other merchants within the day",
        ),
        Rule(
            "ip_burst",
            "velocity.ip.h1 >= 10 || velocity.ip.elsewhere_h1",
            20,
            description="Busy IP address: ten orders here in an hour, or orders from it at "
            "several other merchants within the hour",
        ),
        Rule(
            "device_burst",
            "velocity.device.d1 >= 5",
            20,
            description="Five or more orders from this device today",
        ),
        Rule(
            "postal_mismatch",
            "!order.shipping_postal_matches",
            25,
            description="Shipping postal code does not belong to the prefecture and city",
        ),
        Rule(
            "ship_elsewhere",
            "!order.billing_equals_shipping",
            10,
            description="Shipping address differs from billing",
        ),
        Rule("high_amount", "order.amount_yen >= 100000", 15, description="100,000 yen or more"),
        Rule("ip_phone", "order.phone_kind == 'ip'", 5, description="050 IP phone number"),
        Rule(
            "night_order",
            "order.hour_jst >= 1 && order.hour_jst < 5",
            10,
            description="Placed between 01:00 and 05:00 JST",
        ),
        Rule(
            "repeat_customer",
            "history.legitimate_d30 >= 1 && !known.any",
            -30,
            description="Earlier orders with this e-mail were confirmed legitimate",
        ),
    ),
    thresholds=Thresholds(high=60, medium=25, trusted=-20),
)
