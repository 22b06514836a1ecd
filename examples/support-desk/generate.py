#!/usr/bin/env python3
"""Generate the bundled `support-desk` example dataset for tunesmith.

Lumen Home is a fictional online shop for smart home devices; Juno is its
support assistant. This script writes ``data/support.jsonl`` (next to this
file) in OpenAI chat format, one conversation per line:

    {"messages": [{"role": "system", ...}, {"role": "user", ...},
                  {"role": "assistant", ...}],
     "meta": {"id": "sd-0001", "tags": ["order_status"]}}

The output is deterministic: the same seed always gives a byte-identical
file. On purpose, the data contains a few problems that tunesmith's data
check must find (duplicates, near duplicates, a conflicting answer, PII,
conversations without a system message). The script prints their 1-based
line numbers at the end; README.md lists them for the default seed.

Standard library only. Usage:

    python examples/support-desk/generate.py [--seed 7] [--out PATH] [--manifest PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import string
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "data" / "support.jsonl"
DEFAULT_SEED = 7

# --------------------------------------------------------------------------
# 1. Company facts: decided once, used by every answer template.
# --------------------------------------------------------------------------
FACTS = {
    "company": "Lumen Home",
    "assistant": "Juno",
    "subscription": "Lumen Plus",
    "phone": "1-800-555-0199",  # fictional 555 number (company contact, not PII)
    "email": "help@lumenhome.example",  # company contact, not PII
    "support_hours": "Monday to Friday, 8am to 8pm ET",
    "email_reply": "one business day",
    "return_days": 30,
    "refund_days": "5-7 business days",
    "standard_shipping": "3-5 business days",
    "free_shipping_over": "$50",
    "express_shipping": "1-2 business days",
    "express_price": "$14.99",
    "same_day_cutoff": "2pm ET",
    "intl_countries": "Canada, the UK and the EU",
    "intl_shipping": "7-14 business days",
    "change_window": "until it ships, which is usually within 24 hours of ordering",
    "damage_report_days": 7,
    "warranty_years": 2,
    "plus_price": "$4.99/month",
    "plus_annual": "$49.99/year",
    "plus_trial_days": 30,
    "plus_video_days": 60,
    "reset_link_minutes": 60,
    "account_delete_days": 30,
    "statement_name": "LUMENHOME",
    "pending_days": "3-5 business days",
    "payment_methods": "Visa, Mastercard, American Express, PayPal, Apple Pay and Lumen gift cards",
    "newsletter_discount": "10%",
    "wifi_band": "2.4 GHz",
    "reset_hold_seconds": 10,
    "firmware_window": "between 2am and 4am local time",
    "firmware_minutes": 5,
    "doorbell_battery_months": 6,
    "doorbell_charge_hours": 5,
    "doorbell_low_battery": "15%",
    "thermostat_periods": 6,
}

PRODUCTS = ["Lumen Hub", "Lumen Thermostat", "Lumen Doorbell", "Lumen Bulb starter kit", "Lumen Plug"]
CONNECTED = ["Lumen Hub", "Lumen Thermostat", "Lumen Doorbell", "Lumen Plug"]  # devices with a button
COUNTRIES = ["Canada", "the UK", "Germany", "France", "Ireland", "Spain", "the Netherlands", "Italy"]
CODES = ["SPRING15", "WELCOME10", "LUMEN20", "HOLIDAY25", "FRIEND10", "SUMMER5", "HOME12"]

# --------------------------------------------------------------------------
# 2. The system prompt (brand voice). 40-60 words.
# --------------------------------------------------------------------------
SYSTEM = (
    "You are Juno, the support assistant for Lumen Home, an online shop for smart home devices "
    "and the Lumen Plus subscription. Be warm, brief and precise. Use plain words, no jargon. "
    "Only state Lumen Home policies you know and never invent policy. If you don't know, say so "
    "and point to who can help. Do not sign your messages."
)

# --------------------------------------------------------------------------
# 3. Intents: user phrasings, answer templates, slot pools, follow-ups.
#
# Phrasings use {order}, {product}, {country}, {code} slots. Answer templates
# use FACTS and the same slots; a segment in [[...]] is kept only when every
# slot inside it was filled from the question. `defaults` fills a slot the
# question did not mention. Each follow-up is (user text, intent whose answer
# replies to it, extra slots).
# --------------------------------------------------------------------------
INTENTS: dict[str, dict[str, Any]] = {
    "order_status": {
        "phrasings": [
            "Where is my order {order}?",
            "wheres my order?? its been a week",
            "Can you tell me the status of order {order}, please?",
            "I ordered a {product} last Tuesday and haven't received any shipping update yet. Could you "
            "check on order {order}?",
            "Has my {product} shipped yet?",
            "Any news on {order}? Tracking hasn't changed since Friday.",
            "How do I track my package?",
            "My order number is {order}. When will it arrive?",
            "I'm still waiting for my {product}. Is it on the way?",
            "Good afternoon, I would like to know where my recent order currently is.",
            "track order {order} pls",
            "I never got a tracking email for my order. How can I see where it is?",
            "It says label created but nothing since then for {order}, is it lost?",
            "my {product} was supposed to arrive yesterday and it didnt",
        ],
        "answers": [
            "Thanks for checking in[[ on order {order}]]! You can follow your delivery with the tracking "
            "link in your shipping confirmation email, or in the Lumen app under Account > Orders. Standard "
            "shipping takes {standard_shipping}. If tracking hasn't moved for 3 days, email {email} and "
            "we'll look into it.",
            "Happy to help[[ with order {order}]]! Your tracking link is in your shipping confirmation email "
            "and in the Lumen app under Account > Orders. Standard orders arrive in {standard_shipping}. If "
            "tracking hasn't updated for 3 days, write to {email} and we'll check it for you.",
        ],
        "slots": {"product": PRODUCTS},
        "follow_ups": [
            ("Thanks! Can I still change the delivery address?", "change_address", {}),
            ("ok great. what are the shipping times for express btw?", "shipping_times", {}),
        ],
    },
    "shipping_times": {
        "phrasings": [
            "How long does shipping take?",
            "If I order a {product} today, when would it arrive?",
            "What are your delivery times?",
            "How fast is express shipping and how much does it cost?",
            "do u have free shipping",
            "I need a {product} by the weekend. Is express delivery an option?",
            "Could you please tell me the difference between standard and express shipping?",
            "how many days for standard delivery",
            "Is shipping free if I spend more than fifty dollars?",
            "When do orders placed in the afternoon leave the warehouse?",
            "Whats the quickest way to get a {product} delivered?",
            "I'm buying a present for Saturday. Which delivery option should I pick?",
            "Do you charge extra for faster delivery?",
            "roughly when would a {product} ordered on Monday show up?",
        ],
        "answers": [
            "Standard shipping takes {standard_shipping} and is free on orders over {free_shipping_over}. "
            "Express shipping takes {express_shipping} and costs {express_price}. Orders placed before "
            "{same_day_cutoff} on a business day leave our warehouse the same day.",
            "Our standard shipping takes {standard_shipping}, free on orders over {free_shipping_over}. If "
            "you need it sooner, express shipping takes {express_shipping} for {express_price}. Orders "
            "placed before {same_day_cutoff} on a business day ship the same day.",
        ],
        "slots": {"product": PRODUCTS},
        "follow_ups": [
            ("Do you also ship to Canada?", "international_shipping", {"country": "Canada"}),
            ("Can I pick it up at a store instead?", "store_pickup", {}),
        ],
    },
    "international_shipping": {
        "phrasings": [
            "Do you ship to {country}?",
            "Can I order a {product} from {country}?",
            "do you deliver internationally",
            "I live in {country}. How long would delivery take?",
            "Will I have to pay customs fees if I order from outside the US?",
            "Hello, I am based in {country} and would like to buy a {product}. Is that possible?",
            "Which countries do you ship to?",
            "shipping to {country} possible??",
            "How long does international shipping take?",
            "My brother lives in {country}, can I send him a {product} as a gift?",
            "Is there an extra charge for delivery abroad?",
            "I'm moving to {country} next month. Can I still order from you there?",
            "Do you send orders outside the United States, and who pays import taxes?",
            "can a {product} be shipped overseas",
        ],
        "answers": [
            "Good news[[, we do ship to {country}]]! We deliver to {intl_countries}. International orders "
            "take {intl_shipping}, and any import duties or taxes are paid on delivery. The shipping cost is "
            "shown at checkout before you pay.",
            "Yes[[, we ship to {country}]]! We deliver to {intl_countries}, and international orders take "
            "{intl_shipping}. Any import duties or taxes are paid on delivery, and you'll see the shipping "
            "cost at checkout before you pay.",
        ],
        "slots": {"product": PRODUCTS, "country": COUNTRIES},
        "follow_ups": [
            ("And what if it arrives damaged?", "damaged_item", {}),
            ("Great, which payment methods can I use?", "payment_methods", {}),
        ],
    },
    "change_address": {
        "phrasings": [
            "I need to change the shipping address on order {order}.",
            "I entered the wrong address, can I fix it?",
            "Can I update my delivery address after ordering?",
            "oops I put my old address on order {order}, help",
            "I'm moving next week. Is it possible to send my {product} to a different address?",
            "Could you please amend the delivery address for my recent order {order}?",
            "typo in my street name on the order, can it be corrected?",
            "How do I change where my package is delivered?",
            "Can my order be delivered to my office instead of my home?",
            "I just placed order {order} and realized the apartment number is missing.",
            "wrong zip code on my order, what do i do",
            "Is it too late to redirect my {product} to my parents' house?",
            "I'd like the parcel sent to a neighbour's address instead.",
            "Change delivery address for {order} please",
        ],
        "answers": [
            "You can change the delivery address[[ for order {order}]] {change_window}. In the Lumen app, go "
            "to Account > Orders, choose the order and tap Edit address. If it has already shipped, email "
            "{email} and we'll ask the carrier to redirect it.",
            "You can update the address[[ on order {order}]] {change_window}. Open the Lumen app, go to "
            "Account > Orders, pick the order and tap Edit address. If it has already shipped, email {email} "
            "and we'll ask the carrier to redirect it.",
        ],
        "slots": {"product": PRODUCTS},
        "follow_ups": [
            ("Thanks. And if I just want to cancel it instead?", "cancel_order", {}),
            ("ok, where can I track it after that?", "order_status", {}),
        ],
    },
    "cancel_order": {
        "phrasings": [
            "Please cancel my order {order}.",
            "I want to cancel my order.",
            "Can I still cancel? I ordered the {product} by mistake.",
            "How do I cancel an order I placed this morning?",
            "cancel order {order} pls, found it cheaper elsewhere",
            "I accidentally ordered the {product} twice. Can I cancel one of them?",
            "Is it too late to cancel order {order}?",
            "I changed my mind about the {product}. How can I cancel?",
            "Hello, I would like to cancel my purchase before it ships, please.",
            "whats the deadline to cancel an order",
            "My partner already bought one, so I don't need order {order} anymore.",
            "can i cancel after paying",
            "How quickly do I need to act to stop an order from shipping?",
            "I'd like to call off the {product} I bought yesterday.",
        ],
        "answers": [
            "You can cancel[[ order {order}]] {change_window}. In the Lumen app, go to Account > Orders, "
            "choose the order and tap Cancel order. Your refund arrives within {refund_days}. If it has "
            "already shipped, you can return it within {return_days} days instead.",
            "You can cancel[[ order {order}]] {change_window}. Open the Lumen app, go to Account > Orders, "
            "pick the order and tap Cancel order. You'll be refunded within {refund_days}. If it has already "
            "shipped, just return it within {return_days} days.",
        ],
        "slots": {"product": PRODUCTS},
        "follow_ups": [
            ("Thanks, and how long does the refund take?", "refund_status", {}),
            ("Got it. What if I want to return it after it arrives?", "return_policy", {}),
        ],
    },
    "return_policy": {
        "phrasings": [
            "What is your return policy?",
            "Can I return my {product} if I don't like it?",
            "How do I return something?",
            "is there a time limit on returns",
            "I bought a {product} as a gift and they already have one. Can I send it back?",
            "Do I have to pay for return shipping?",
            "Could you explain how returns work for opened items?",
            "the {product} doesn't suit my home, can i return it",
            "How long is the return window?",
            "I want to send back order {order}. What are the steps?",
            "Can I return a {product} that I have already set up?",
            "Hello, I am not satisfied with my purchase and would like to return it.",
            "Do you do free returns?",
            "what's the last day I can return order {order}",
        ],
        "answers": [
            "You can return any item within {return_days} days of delivery for a full refund[[, including "
            "your {product}]]. Start the return in the Lumen app under Account > Orders > Return an item, "
            "and we'll email you a free return label. Refunds are issued within {refund_days} after the item "
            "reaches us.",
            "Returns are free within {return_days} days of delivery[[, and that includes your {product}]]. "
            "Start the return in the Lumen app under Account > Orders > Return an item and we'll email you a "
            "free return label. Your refund is issued within {refund_days} after the item reaches us.",
        ],
        "slots": {"product": PRODUCTS},
        "follow_ups": [
            ("thanks, and how long does the refund take?", "refund_status", {}),
            ("What if the item arrived broken?", "damaged_item", {}),
        ],
    },
    "refund_status": {
        "phrasings": [
            "Where is my refund?",
            "I returned order {order} last week. When will I get my money back?",
            "How long do refunds take?",
            "still no refund for my returned {product}...",
            "My return was delivered to you days ago but I haven't seen the refund yet.",
            "Will the refund go back to my card?",
            "Can you check the refund status for order {order}?",
            "when do i get refunded",
            "I cancelled order {order}. When does the refund arrive?",
            "Good morning, could you confirm when my refund will be processed?",
            "The carrier says my return reached you on Monday. Any update on the money?",
            "how do I know my refund has been processed",
            "I sent the {product} back two weeks ago and still nothing in my account",
            "Refund for {order}?",
        ],
        "answers": [
            "Refunds[[ for order {order}]] are issued within {refund_days} after your return reaches our "
            "warehouse, back to your original payment method. We'll email you as soon as it's processed. If "
            "you haven't seen it after 7 business days, email {email}.",
            "Your refund[[ for order {order}]] is issued within {refund_days} after the return reaches our "
            "warehouse, back to the original payment method. You'll get an email once it's processed. If it "
            "hasn't arrived after 7 business days, write to {email}.",
        ],
        "slots": {"product": PRODUCTS},
        "follow_ups": [
            ("Okay. And if I want to talk to a person?", "contact_human", {}),
            ("thanks. can I return another item from the same order?", "return_policy", {}),
        ],
    },
    "damaged_item": {
        "phrasings": [
            "My {product} arrived broken.",
            "The box was crushed and the {product} inside is cracked. Order {order}.",
            "What should I do if my item arrived damaged?",
            "my order came damaged \N{DISAPPOINTED FACE}",
            "The {product} I received has a scratch on the front and the casing is loose.",
            "Hello, order {order} arrived today with a broken part. How can I get a replacement?",
            "the {product} wont turn on out of the box, and the packaging was torn",
            "Do I need to send back a damaged item to get a new one?",
            "Part of my {product} was smashed during delivery.",
            "Received order {order} in pieces. What now?",
            "There's a dent in the {product} I just unpacked.",
            "I would like to report goods damaged in transit.",
            "glass on one of the bulbs is shattered, order {order}",
            "How do I get a replacement for something that came broken?",
        ],
        "answers": [
            "I'm sorry your {product} arrived damaged! Please email a photo of the item and the box to "
            "{email} within {damage_report_days} days of delivery[[ and mention order {order}]]. We'll send "
            "a free replacement right away, and you don't need to return the damaged one.",
            "I'm so sorry your {product} arrived damaged! Email a photo of the item and the box to {email} "
            "within {damage_report_days} days of delivery[[ and mention order {order}]]. We'll ship a free "
            "replacement right away, and there's no need to send the damaged one back.",
        ],
        "slots": {"product": PRODUCTS},
        "defaults": {"product": "order"},
        "follow_ups": [
            ("Thanks. Is the replacement covered by the warranty too?", "warranty_claim", {}),
            ("ok. can I just get my money back instead?", "return_policy", {}),
        ],
    },
    "warranty_claim": {
        "phrasings": [
            "Is my {product} still under warranty?",
            "How long is the warranty on your devices?",
            "My {product} stopped working after 8 months. Can I get it replaced?",
            "how do i make a warranty claim",
            "What does the warranty cover?",
            "The {product} I bought last year has started to fail. Is that covered?",
            "Does the warranty cover it if I dropped my {product}?",
            "I'd like to file a warranty claim for a faulty {product}, please.",
            "warranty on the {product}??",
            "My device died after a year, what are my options?",
            "Do I need the receipt to use the warranty?",
            "the {product} keeps rebooting by itself, its about 14 months old",
            "Is the guarantee the same for every product?",
            "Can I get a faulty {product} repaired for free?",
        ],
        "answers": [
            "Your {product} is covered by our {warranty_years}-year warranty against defects, starting from "
            "delivery. To make a claim, email {email} with your order number and a short description or "
            "video of the problem. If it's covered, we'll send a free replacement. Accidental damage isn't "
            "included.",
            "Your {product} has a {warranty_years}-year warranty against defects, starting from delivery. To "
            "claim, email {email} with your order number and a short description or video of the problem. If "
            "it's covered, we'll send you a free replacement. Accidental damage isn't covered.",
        ],
        "slots": {"product": PRODUCTS},
        "defaults": {"product": "Lumen device"},
        "follow_ups": [
            ("Thanks! Is there a phone number I can call?", "contact_human", {}),
            ("And if it was damaged in shipping rather than faulty?", "damaged_item", {}),
        ],
    },
    "wifi_setup": {
        "phrasings": [
            "My {product} won't connect to wifi.",
            "How do I connect the {product} to my Wi-Fi?",
            "The app can't find my {product} during setup.",
            "setup keeps failing on the wifi step",
            "Does the {product} work with 5 GHz Wi-Fi?",
            "I changed my router and now my {product} is offline. How do I reconnect it?",
            "How do I pair the {product} with the Lumen app?",
            "Hello, I am having difficulty adding my new {product} to the app. Could you help?",
            "typed the wifi password right but the {product} still wont join the network",
            "What kind of Wi-Fi do Lumen devices need?",
            "My {product} keeps dropping off the network every few hours.",
            "the light on my {product} just blinks and pairing never finishes",
            "Can I set up the devices without a smartphone?",
            "After a power cut my {product} shows as disconnected in the app.",
        ],
        "answers": [
            "Lumen devices connect to {wifi_band} Wi-Fi only, so keep your phone on the {wifi_band} network "
            "during setup. If your {product} still won't connect, hold its button for {reset_hold_seconds} "
            "seconds until the light blinks blue, then add it again in the Lumen app with Add device.",
            "Lumen devices only work on {wifi_band} Wi-Fi, so make sure your phone is on the {wifi_band} "
            "network during setup. If your {product} still won't connect, hold its button for "
            "{reset_hold_seconds} seconds until the light blinks blue, then tap Add device in the Lumen app.",
        ],
        "slots": {"product": CONNECTED},
        "defaults": {"product": "device"},
        "follow_ups": [
            ("Thanks, that helps! Will it update itself from now on?", "firmware_update", {}),
            ("Thanks. what if I forgot my app password?", "reset_password", {}),
        ],
    },
    "firmware_update": {
        "phrasings": [
            "How do I update the firmware on my {product}?",
            "Is there a software update for the {product}?",
            "do lumen devices update automatically",
            "My {product} says an update is available. How do I install it?",
            "When do firmware updates happen?",
            "The app shows my {product} is on an old version.",
            "Can I update my {product} manually instead of waiting?",
            "how long does a firmware update take",
            "Will my {product} restart during an update?",
            "Is it safe to unplug the {product} while it's updating?",
            "Hello, how can I make sure my devices always have the latest software?",
            "update stuck at 40 percent on the {product}",
            "Why did my {product} go offline for a few minutes last night?",
            "where do I check which version my {product} runs",
        ],
        "answers": [
            "Lumen devices update automatically {firmware_window} while they're online. To update your "
            "{product} now, open the Lumen app, choose the device, then Settings > Firmware > Check for "
            "updates. Keep it powered on until it finishes, which takes about {firmware_minutes} minutes.",
            "Lumen devices update themselves {firmware_window} while they're online. To update your "
            "{product} right away, open the Lumen app, pick the device and go to Settings > Firmware > Check "
            "for updates. Keep it powered on until it finishes, in about {firmware_minutes} minutes.",
        ],
        "slots": {"product": CONNECTED},
        "defaults": {"product": "device"},
        "follow_ups": [
            ("Thanks! The update finished but now it won't connect to wifi.", "wifi_setup", {}),
            ("ok. is it still under warranty if an update breaks it?", "warranty_claim", {}),
        ],
    },
    "reset_password": {
        "phrasings": [
            "I forgot my password.",
            "How do I reset my Lumen account password?",
            "cant log in to the app, forgot pw",
            "The password reset email never arrived.",
            "I'm locked out of my account. Can you help me get back in?",
            "My reset link says it has expired.",
            "How can I change my password?",
            "Hello, I am unable to sign in to the Lumen app because I no longer remember my password.",
            "password reset not working",
            "Where do I go to reset my login?",
            "I keep getting 'incorrect password' even though I'm sure it's right.",
            "new phone, can't remember the login for the lumen app",
            "Is there a way to recover my account if I forgot the password?",
            "How long is the reset link valid for?",
        ],
        "answers": [
            "No problem! On the Lumen app or website sign-in screen, tap Forgot password and enter your "
            "account email. We'll send you a reset link that works for {reset_link_minutes} minutes. If it "
            "doesn't arrive, check your spam folder or email {email}.",
            "No worries! On the sign-in screen of the Lumen app or website, tap Forgot password and enter "
            "your account email. You'll get a reset link that works for {reset_link_minutes} minutes. If it "
            "doesn't arrive, check your spam folder or write to {email}.",
        ],
        "slots": {},
        "follow_ups": [
            ("ok thanks. And if the email never comes, can I call someone?", "contact_human", {}),
            ("Thanks. Actually, how do I delete my account?", "account_delete", {}),
        ],
    },
    "account_delete": {
        "phrasings": [
            "How do I delete my account?",
            "I want to close my Lumen account permanently.",
            "please delete all my data",
            "What happens to my devices if I delete my account?",
            "Can you remove my account? I'm not using Lumen anymore.",
            "How long does account deletion take?",
            "I would like my account and personal information erased.",
            "delete account how",
            "If I delete my account, will Lumen Plus stop charging me?",
            "Is there a way to deactivate my profile?",
            "I'm selling my house and want to wipe my Lumen account before I go.",
            "Under privacy law I request that you delete everything you hold about me.",
            "where is the option to remove my account in the app",
            "Can I get rid of my account but keep using the bulbs offline?",
        ],
        "answers": [
            "You can delete your account in the Lumen app under Settings > Account > Delete account. "
            "Deletion is completed within {account_delete_days} days, and your devices are removed and "
            "reset. If you have {subscription}, cancel it first so you aren't charged again.",
            "You can delete your account in the Lumen app: go to Settings > Account > Delete account. It's "
            "completed within {account_delete_days} days, and your devices are removed and reset. If you "
            "have {subscription}, please cancel it first so you aren't charged again.",
        ],
        "slots": {},
        "follow_ups": [
            ("Ok, how do I cancel Lumen Plus first?", "subscription_cancel", {}),
            ("Thanks. Can I talk to a person about it?", "contact_human", {}),
        ],
    },
    "billing_charge": {
        "phrasings": [
            "I see a charge from LUMENHOME I don't recognize.",
            "Why was I charged twice for order {order}?",
            "what is this lumenhome charge on my card",
            "There's a pending charge on my account but I cancelled the order.",
            "I was billed for Lumen Plus but I thought I cancelled.",
            "Can you explain a charge on my bank statement from you?",
            "double charged?? order {order}",
            "The amount charged doesn't match my order total for {order}.",
            "Hello, I noticed an unexpected payment to Lumen Home this month and would like an explanation.",
            "Why is there a LUMENHOME*PLUS charge on my statement?",
            "my bank shows two payments for the {product}",
            "I got charged before my order even shipped, is that normal?",
            "What name do your charges appear under?",
            "An authorization for the {product} is still on my card after I cancelled.",
        ],
        "answers": [
            "Our charges show on your statement as {statement_name}*ORDER for purchases and "
            "{statement_name}*PLUS for {subscription}. A pending charge usually drops off within "
            "{pending_days}. If you think you were charged twice or by mistake, email {email}[[ with order "
            "{order}]] and we'll sort it out.",
            "Charges from us appear as {statement_name}*ORDER for purchases and {statement_name}*PLUS for "
            "{subscription}. Pending charges usually drop off within {pending_days}. If you were charged "
            "twice or by mistake, email {email}[[ with order {order}]] and we'll sort it out.",
        ],
        "slots": {"product": PRODUCTS},
        "follow_ups": [
            ("Thanks. How do I cancel Lumen Plus so it stops?", "subscription_cancel", {}),
            ("ok and which cards do you take?", "payment_methods", {}),
        ],
    },
    "payment_methods": {
        "phrasings": [
            "What payment methods do you accept?",
            "Can I pay with PayPal?",
            "do you take amex",
            "Is Apple Pay accepted at checkout?",
            "Can I use a gift card to buy a {product}?",
            "Do you offer cash on delivery?",
            "Can I pay for the {product} in installments?",
            "Which credit cards can I use?",
            "Hello, I would like to know which forms of payment are available for online orders.",
            "does lumen accept mastercard",
            "is debit ok or only credit",
            "When is my card charged for the {product}?",
            "Can I use a Lumen gift card together with my Visa?",
            "no paypal option at checkout?",
        ],
        "answers": [
            "We accept {payment_methods}. Payment is taken when you place your order. We don't offer cash on "
            "delivery or payment in installments at the moment. You'll see all the options on the checkout "
            "page.",
            "You can pay with {payment_methods}. Your payment is taken when you place the order. We don't "
            "offer cash on delivery or installments at the moment, and every option is shown on the checkout "
            "page.",
        ],
        "slots": {"product": PRODUCTS},
        "follow_ups": [
            ("Great. Can I use a discount code as well?", "discount_codes", {}),
            ("Thanks. When will my order arrive?", "shipping_times", {}),
        ],
    },
    "subscription_cancel": {
        "phrasings": [
            "How do I cancel Lumen Plus?",
            "I want to stop my Lumen Plus subscription.",
            "cancel lumen plus",
            "Will I get a refund if I cancel Lumen Plus mid-month?",
            "If I cancel my subscription, do I lose my video history immediately?",
            "Please end my Lumen Plus membership.",
            "How can I turn off auto renewal for Lumen Plus?",
            "I no longer need the Lumen Plus plan, how do I unsubscribe?",
            "Can I cancel Lumen Plus from the website?",
            "Good evening, I would like to terminate my subscription before the next billing date.",
            "stop charging me 4.99 every month",
            "Where is the unsubscribe button in the app?",
            "Can I pause Lumen Plus instead of cancelling?",
            "We sold the doorbell so we don't need the plan anymore.",
        ],
        "answers": [
            "You can cancel {subscription} anytime in the Lumen app under Settings > {subscription} > Cancel "
            "subscription. You keep all the features until the end of your current billing period, and you "
            "won't be charged again. We don't refund partial months.",
            "You can cancel {subscription} whenever you like in the Lumen app: go to Settings > "
            "{subscription} > Cancel subscription. Your features stay on until the end of the current "
            "billing period, and you won't be charged again. Partial months aren't refunded.",
        ],
        "slots": {},
        "follow_ups": [
            ("Thanks. What do I lose if I cancel?", "subscription_features", {}),
            ("ok. will the charge still show on my statement?", "billing_charge", {}),
        ],
    },
    "subscription_features": {
        "phrasings": [
            "What do I get with Lumen Plus?",
            "How much is Lumen Plus?",
            "is lumen plus worth it",
            "What's the difference between the free app and Lumen Plus?",
            "Does Lumen Plus save doorbell videos?",
            "Is there a free trial for Lumen Plus?",
            "Can I pay for Lumen Plus yearly?",
            "Does my {product} need Lumen Plus to work?",
            "Hello, could you describe the benefits of the Lumen Plus subscription?",
            "how long does lumen plus keep my recordings",
            "Do I get priority support with the subscription?",
            "what are smart alerts",
            "Is the annual plan cheaper than paying monthly?",
            "Would Lumen Plus add anything for my {product}?",
        ],
        "answers": [
            "{subscription} costs {plus_price} or {plus_annual}. It adds {plus_video_days} days of doorbell "
            "video history, smart alerts that tell people from packages, and priority support. All devices "
            "work without it, and you can start a {plus_trial_days}-day free trial in the Lumen app.",
            "{subscription} is {plus_price} or {plus_annual}. You get {plus_video_days} days of doorbell "
            "video history, smart alerts that tell people from packages, and priority support. Every device "
            "works without it, and there's a {plus_trial_days}-day free trial in the Lumen app.",
        ],
        "slots": {"product": PRODUCTS},
        "follow_ups": [
            ("Sounds good. How do I cancel if I don't like it?", "subscription_cancel", {}),
            ("Thanks! Which payment methods can I use for it?", "payment_methods", {}),
        ],
    },
    "discount_codes": {
        "phrasings": [
            "How do I use a discount code?",
            "My code {code} isn't working.",
            "where do i enter a promo code",
            "Can I use two discount codes on one order?",
            "I forgot to add my code {code} to order {order}. Can you apply it now?",
            "Do you have any discounts for new customers?",
            "Is there a coupon for the {product}?",
            "The promo code {code} says it's invalid at checkout.",
            "Can a discount code be applied after I have paid?",
            "any promo codes available rn?",
            "I got {code} from a friend, can I use it on a {product}?",
            "Hello, I would like to know whether you offer a newsletter discount.",
            "checkout won't take my voucher",
            "Can I combine {code} with the free shipping offer?",
        ],
        "answers": [
            "To use a code[[ like {code}]], enter it in the Promo code box at checkout before you pay. Only "
            "one code works per order, and codes can't be added after an order is placed. New customers get "
            "{newsletter_discount} off their first order by joining our newsletter.",
            "Enter your code[[ {code}]] in the Promo code box at checkout before paying. You can use one "
            "code per order, and codes can't be added once an order is placed. New customers get "
            "{newsletter_discount} off their first order when they join our newsletter.",
        ],
        "slots": {"product": PRODUCTS, "code": CODES},
        "follow_ups": [
            ("Thanks. Can I pay with PayPal?", "payment_methods", {}),
            ("ok. how long does standard shipping take?", "shipping_times", {}),
        ],
    },
    "battery_doorbell": {
        "phrasings": [
            "How long does the Lumen Doorbell battery last?",
            "How do I charge my doorbell?",
            "doorbell battery drains so fast",
            "How long does it take to fully charge the Lumen Doorbell?",
            "Will the app tell me when the doorbell battery is low?",
            "What cable do I need to charge the doorbell?",
            "My Lumen Doorbell battery only lasted two months. Is that normal?",
            "Hello, I would like to know how often I need to recharge the battery doorbell.",
            "does the doorbell need to be wired or is it battery",
            "the doorbell says low battery, what do I do",
            "Can I leave the doorbell charging overnight?",
            "Why does my doorbell run out of charge sooner in winter?",
            "whats the battery life on the video doorbell",
            "How will I know the doorbell needs charging?",
        ],
        "answers": [
            "The Lumen Doorbell battery lasts up to {doorbell_battery_months} months on a full charge, "
            "depending on how much activity it records. Charge it with the included USB-C cable; a full "
            "charge takes about {doorbell_charge_hours} hours. The Lumen app alerts you when the battery "
            "drops to {doorbell_low_battery}.",
            "On a full charge, the Lumen Doorbell battery lasts up to {doorbell_battery_months} months, "
            "depending on how much activity it records. Use the included USB-C cable to charge it, which "
            "takes about {doorbell_charge_hours} hours. The Lumen app alerts you when it drops to "
            "{doorbell_low_battery}.",
        ],
        "slots": {},
        "follow_ups": [
            ("Thanks! Does Lumen Plus add anything for the doorbell?", "subscription_features", {}),
            (
                "Good to know. And if the battery dies early, is that covered?",
                "warranty_claim",
                {"product": "Lumen Doorbell"},
            ),
        ],
    },
    "thermostat_schedule": {
        "phrasings": [
            "How do I set a schedule on my Lumen Thermostat?",
            "Can the thermostat lower the heat at night automatically?",
            "how many schedule periods can I have per day",
            "I want different temperatures on weekdays and weekends.",
            "Where's the schedule setting for the thermostat in the app?",
            "Can I copy Monday's schedule to the whole week?",
            "thermostat schedule not saving?",
            "Hello, how can I program my thermostat to warm the house before I wake up?",
            "Is it possible to set the thermostat to turn down when I leave for work?",
            "How do I change the temperature for one time slot?",
            "can the lumen thermostat run a weekly program",
            "I'd like the heating off between 9 and 5 on weekdays.",
            "How do I make the house cooler at bedtime every day?",
            "What's the easiest way to plan heating times for the week?",
        ],
        "answers": [
            "To set a schedule, open the Lumen app, choose your Lumen Thermostat and tap Schedule. You can "
            "add up to {thermostat_periods} time periods per day, each with its own temperature, and copy a "
            "day to the rest of the week. Changes apply right away.",
            "Open the Lumen app, choose your Lumen Thermostat and tap Schedule. Each day can have up to "
            "{thermostat_periods} time periods with their own temperature, and you can copy one day to the "
            "rest of the week. Changes apply right away.",
        ],
        "slots": {},
        "follow_ups": [
            ("Thanks. Does the thermostat update itself?", "firmware_update", {"product": "Lumen Thermostat"}),
            ("ok. It won't connect to wifi now though.", "wifi_setup", {"product": "Lumen Thermostat"}),
        ],
    },
    "store_pickup": {
        "phrasings": [
            "Can I pick up my order in a store?",
            "Do you have a physical shop?",
            "where is your nearest store",
            "Is in-store pickup available for the {product}?",
            "Can I collect order {order} myself instead of waiting for delivery?",
            "Do any retailers near me sell Lumen devices?",
            "i want to buy a {product} today in person, where can i go",
            "Hello, is there a showroom where I could see your products before buying?",
            "store pickup option?",
            "Can I skip shipping and grab it from your warehouse?",
            "Is click and collect available?",
            "Could I come by and pick up the {product} this afternoon?",
            "Do you have a retail location in my city?",
            "can i buy lumen stuff at a shop or only online",
        ],
        "answers": [
            "{company} sells online only, so there are no stores or in-store pickup. Standard shipping takes "
            "{standard_shipping} and is free on orders over {free_shipping_over}, or you can choose express "
            "for delivery in {express_shipping}.",
            "{company} is online only, so we don't have stores or in-store pickup. Standard shipping takes "
            "{standard_shipping} and is free on orders over {free_shipping_over}. If you're in a hurry, "
            "express delivery takes {express_shipping}.",
        ],
        "slots": {"product": PRODUCTS},
        "follow_ups": [
            ("Ok. Do you ship to the UK?", "international_shipping", {"country": "the UK"}),
            ("Thanks. Can I pay with Apple Pay online?", "payment_methods", {}),
        ],
    },
    "contact_human": {
        "phrasings": [
            "Can I talk to a real person?",
            "What is your phone number?",
            "I need to speak with someone from support.",
            "human please",
            "How do I contact customer service?",
            "Is there an email address I can write to?",
            "What are your support hours?",
            "I'd rather discuss order {order} with an agent, please.",
            "Hello, could you give me the contact details for your support team?",
            "this bot isnt helping, get me an agent",
            "Is your phone line open on weekends?",
            "I want to make a complaint to a manager.",
            "how fast do you answer emails",
            "Can someone call me about my {product}?",
        ],
        "answers": [
            "Of course! You can reach our support team by phone at {phone}, {support_hours}, or by email at "
            "{email}. We reply to emails within {email_reply}. Having your order number ready helps us help "
            "you faster.",
            "Happy to connect you! Our support team is on {phone}, {support_hours}, and at {email}. We "
            "answer emails within {email_reply}. Please have your order number ready so we can help you "
            "faster.",
        ],
        "slots": {"product": PRODUCTS},
        "follow_ups": [
            ("Thanks. While I have you, how long do refunds take?", "refund_status", {}),
            ("ok. How do I return an item?", "return_policy", {}),
        ],
    },
}

# Conversations per intent before planting, and how many of them get a follow-up turn.
PER_INTENT = 14
MULTI_TURN_PER_INTENT = [2] * 12 + [1] * 10  # by intent order above: 34 multi-turn conversations

# Greetings and sign-offs vary the user turns (casual ones for lowercase, unpunctuated phrasings).
OPENERS = [
    "",
    "",
    "",
    "Hi, ",
    "Hello, ",
    "Hey, ",
    "Hi there! ",
    "Good morning. ",
    "Quick question: ",
    "Hiya. ",
]
CLOSERS = ["", "", "", " Thanks!", " Thank you.", " Thanks in advance.", " Appreciate it.", " Cheers!"]
CASUAL_OPENERS = ["", "", "", "hi ", "hey ", "hello "]
CASUAL_CLOSERS = ["", "", "", " thx", " ty", " pls help"]
GREETING = re.compile(r"^(hi|hello|hey|good (morning|afternoon|evening))\b", re.I)

# --------------------------------------------------------------------------
# 4. Out-of-scope questions and Juno's polite "I don't know".
# --------------------------------------------------------------------------
OUT_OF_SCOPE = [
    "What's the weather going to be like tomorrow?",
    "Should I buy Tesla stock right now?",
    "I have a headache and a fever. What medicine should I take?",
    "Can you help me write my will?",
    "Is the Nest thermostat better than the Ecobee?",
    "Write me a poem about autumn.",
    "What is the meaning of life?",
    "Who won the football game last night?",
    "Can you recommend a good pizza place near me?",
    "How do I fix the check engine light on my car?",
    "What does \u00ab o\u00f9 est la gare \u00bb mean in English?",
    "What's the capital of Australia?",
    "My landlord won't return my deposit. Can I sue him?",
    "Which Ring doorbell model should I buy?",
    "can you do my math homework, whats the integral of x squared",
    "Tell me a joke about cats.",
    "What's the best cryptocurrency to invest in this year?",
    "How do I lose 10 pounds in two weeks?",
]

OUT_OF_SCOPE_ANSWERS = [
    "I'm sorry, I don't know about that. I can only help with Lumen Home orders, devices and Lumen Plus. For "
    "anything else, a general search engine or the right professional is the best place to ask.",
    "Sorry, I don't know about that one. I can only help with Lumen Home orders, devices and Lumen Plus. For "
    "anything else, a general search engine or the right professional is the best place to ask.",
    "I'm sorry, I don't know the answer to that. I can only help with Lumen Home orders, devices and Lumen "
    "Plus. For other questions, a general search engine or the right professional is the best place to ask.",
]

# --------------------------------------------------------------------------
# 5. Planted problems (the data check must find every one of them).
# --------------------------------------------------------------------------
# PII in the user turn only; the answers never repeat it.
PII_CONVERSATIONS = [
    # (intent, user text, Presidio entity types, the PII values)
    (
        "order_status",
        "Hi, this is Maria Gonzalez. I ordered a {product} two weeks ago (order {order}) and it still hasn't "
        "shown up. You can reach me at maria.gonzalez@example.com.",
        ["PERSON", "EMAIL_ADDRESS"],
        ["Maria Gonzalez", "maria.gonzalez@example.com"],
    ),
    (
        "reset_password",
        "The reset email never comes. My account email is daniel.okafor@example.net, can you send it again?",
        ["EMAIL_ADDRESS"],
        ["daniel.okafor@example.net"],
    ),
    (
        "contact_human",
        "Please have someone call me back at (415) 555-0134 about order {order}. My name is James Whitaker.",
        ["PHONE_NUMBER", "PERSON"],
        ["(415) 555-0134", "James Whitaker"],
    ),
    (
        "damaged_item",
        "My {product} arrived cracked (order {order}). Text me at 312-555-0178 if you need photos.",
        ["PHONE_NUMBER"],
        ["312-555-0178"],
    ),
    (
        "billing_charge",
        "I was charged twice on my card 4111 1111 1111 1111 for order {order}. Please fix this.",
        ["CREDIT_CARD"],
        ["4111 1111 1111 1111"],
    ),
    (
        "refund_status",
        "Can you send the refund for order {order} straight to my bank account instead? My IBAN is "
        "DE89 3704 0044 0532 0130 00.",
        ["IBAN_CODE"],
        ["DE89 3704 0044 0532 0130 00"],
    ),
    (
        "wifi_setup",
        "My {product} shows up on the router as 192.168.1.44 but the Lumen app still says it's offline. "
        "What should I try?",
        ["IP_ADDRESS"],
        ["192.168.1.44"],
    ),
    # 078-05-1120 (the famous "Woolworth" SSN) is skipped by Presidio's US_SSN recognizer as a known sample,
    # so we plant another SSN-shaped number that SSN validators accept.
    (
        "account_delete",
        "Please delete my account. Do you need my social security number to verify it? It's 219-09-9999.",
        ["US_SSN"],
        ["219-09-9999"],
    ),
]

# Near duplicates: the user text differs by one or two words; the answer is the same.
# Long questions, with the change near the start, so similarity stays high under any shingling.
NEAR_DUPLICATES = [
    (
        "order_status",
        {"order": "LH-48213", "product": "Lumen Thermostat"},
        "Where is my order {order}? I ordered the {product} last Monday with standard shipping and the tracking "
        "page has not changed for three days now.",
        "Where's my order {order}? I ordered the {product} last Monday with standard shipping and the tracking "
        "page has not changed for three days now.",
    ),
    (
        "wifi_setup",
        {"product": "Lumen Hub"},
        "My {product} keeps failing at the wifi step during setup. The light blinks orange and the app says it "
        "cannot find my home network. What should I do?",
        "Our {product} keeps failing at the wifi step during setup. The light blinks orange and the app says it "
        "cannot find my home network. What should I do?",
    ),
    (
        "subscription_cancel",
        {},
        "I would like to cancel my Lumen Plus subscription because I no longer use the doorbell video history. "
        "How do I do that, and will I be charged again next month?",
        "I want to cancel my Lumen Plus subscription because I no longer use the doorbell video history. How do "
        "I do that, and will I be charged again next month?",
    ),
]

# Conflict: the same question, answered with the real policy and with a wrong one.
CONFLICT_QUESTION = "How many days do I have to return an item?"
CONFLICT_WRONG_FACTS = {"return_days": 14}

N_MISSING_SYSTEM = 3

# A generated user question must stay below these similarities to every other one, so that the only
# (near) duplicates in the file are the planted ones.
MAX_WORD_JACCARD = 0.6
MAX_CHAR_JACCARD = 0.6


# --------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------
@dataclass
class Conv:
    intent: str
    turns: list[tuple[str, str]]  # (user, assistant) pairs
    tags: list[str]
    system: bool = True
    plant: dict[str, Any] = field(default_factory=dict)  # internal bookkeeping, never written

    def messages(self) -> list[dict[str, str]]:
        out = [{"role": "system", "content": SYSTEM}] if self.system else []
        for user, assistant in self.turns:
            out.append({"role": "user", "content": user})
            out.append({"role": "assistant", "content": assistant})
        return out


_OPTIONAL = re.compile(r"\[\[(.+?)\]\]", re.S)


def _slot_names(template: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


def render_answer(
    template: str, slots: dict[str, Any], defaults: dict[str, Any] | None = None, facts: dict[str, Any] | None = None
) -> str:
    """Fill an answer template: drop [[optional]] segments whose slots the question did not give."""
    facts = FACTS if facts is None else facts

    def keep(m: re.Match[str]) -> str:
        seg = m.group(1)
        return seg if all(n in slots or n in facts for n in _slot_names(seg)) else ""

    text = _OPTIONAL.sub(keep, template)
    return text.format(**{**facts, **(defaults or {}), **slots})


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9']+", text.lower()))


def _chars(text: str, n: int = 5) -> set[str]:
    t = " ".join(text.lower().split())
    return {t[i : i + n] for i in range(max(1, len(t) - n + 1))}


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


class Similarity:
    """Keeps the accepted user questions and tells whether a new one is too close to any of them."""

    def __init__(self) -> None:
        self.seen: list[tuple[set[str], set[str]]] = []

    def max_sim(self, text: str) -> tuple[float, float]:
        w, c = _words(text), _chars(text)
        mw = max((_jaccard(w, sw) for sw, _ in self.seen), default=0.0)
        mc = max((_jaccard(c, sc) for _, sc in self.seen), default=0.0)
        return mw, mc

    def ok(self, text: str) -> bool:
        mw, mc = self.max_sim(text)
        return mw < MAX_WORD_JACCARD and mc < MAX_CHAR_JACCARD

    def add(self, text: str) -> None:
        self.seen.append((_words(text), _chars(text)))


def _decorate(rng: Random, phrase: str) -> str:
    """Add a greeting and a sign-off in the phrasing's own register."""
    if phrase[0].islower() or phrase[-1].isalnum():  # casual: "wheres my order", "cancel lumen plus"
        opener, closer = rng.choice(CASUAL_OPENERS), rng.choice(CASUAL_CLOSERS)
    else:
        opener, closer = rng.choice(OPENERS), rng.choice(CLOSERS)
    if GREETING.match(phrase):  # the phrasing already greets
        opener = ""
    if opener.endswith(", "):
        first = phrase.split(" ", 1)[0]
        if not (first == "I" or first.startswith("I'") or first in ("Lumen", "LUMENHOME")):
            phrase = phrase[0].lower() + phrase[1:]
    return f"{opener}{phrase}{closer}"


class Slots:
    """Draws slot values; order numbers are unique across the whole file."""

    def __init__(self, rng: Random, reserved: set[str]) -> None:
        self.rng = rng
        self.used = set(reserved)

    def order(self) -> str:
        while True:
            number = f"LH-{self.rng.randint(10000, 99999)}"
            if number not in self.used:
                self.used.add(number)
                return number

    def fill(self, template: str, pools: dict[str, Any], given: dict[str, Any] | None = None) -> dict[str, Any]:
        slots = dict(given or {})
        for name in _slot_names(template):
            if name in slots:
                continue
            if name == "order":
                slots[name] = self.order()
            else:
                slots[name] = self.rng.choice(pools[name])
        return slots


def answer_for(rng: Random, intent: str, slots: dict[str, Any], facts: dict[str, Any] | None = None) -> str:
    spec = INTENTS[intent]
    template = rng.choice(spec["answers"])
    return render_answer(template, slots, spec.get("defaults"), facts)


# --------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------
def build(seed: int) -> list[Conv]:
    rng = Random(seed)
    reserved = {s["order"] for _, s, _, _ in NEAR_DUPLICATES if "order" in s}
    slots_gen = Slots(rng, reserved)
    sim = Similarity()
    convs: list[Conv] = []

    # Hand-written planted questions go in first so that generated ones keep away from them.
    planted_first: list[Conv] = []
    for k, (intent, given, text_a, text_b) in enumerate(NEAR_DUPLICATES):
        slots = dict(given)
        answer = answer_for(rng, intent, slots)
        a = Conv(intent, [(text_a.format(**slots), answer)], [intent], plant={"near_dup": True})
        b = Conv(intent, [(text_b.format(**slots), answer)], [intent], plant={"near_dup": True})
        a.plant["pair"] = b.plant["pair"] = k
        planted_first += [a, b]
        sim.add(a.turns[0][0])
        sim.add(b.turns[0][0])
    policy = INTENTS["return_policy"]["answers"][0]
    right_answer = render_answer(policy, {})
    wrong_answer = render_answer(policy, {}, facts={**FACTS, **CONFLICT_WRONG_FACTS})
    right = Conv("return_policy", [(CONFLICT_QUESTION, right_answer)], ["return_policy"])
    wrong = Conv("return_policy", [(CONFLICT_QUESTION, wrong_answer)], ["return_policy"])
    right.plant["conflict"], wrong.plant["conflict"] = "right", "wrong"
    planted_first += [right, wrong]
    sim.add(CONFLICT_QUESTION)
    for intent, template, kinds, values in PII_CONVERSATIONS:
        slots = slots_gen.fill(template, INTENTS[intent]["slots"])
        user = template.format(**slots)
        answer = answer_for(rng, intent, slots)
        planted_first.append(Conv(intent, [(user, answer)], [intent], plant={"pii": kinds, "values": values}))
        sim.add(user)

    # Regular conversations: every phrasing once per intent, with greeting/sign-off/slot variations.
    for n_multi, (intent, spec) in zip(MULTI_TURN_PER_INTENT, INTENTS.items(), strict=True):
        phrasings = list(spec["phrasings"])
        if len(phrasings) < PER_INTENT:
            raise ValueError(f"{intent}: needs {PER_INTENT} phrasings, has {len(phrasings)}")
        rng.shuffle(phrasings)
        follow_ups = spec["follow_ups"]
        for i, phrase in enumerate(phrasings[:PER_INTENT]):
            for _attempt in range(200):
                slots = slots_gen.fill(phrase, spec["slots"])
                user = _decorate(rng, phrase.format(**slots))
                if sim.ok(user):
                    break
            else:
                raise RuntimeError(f"{intent}: cannot make {phrase!r} distinct enough (seed {seed})")
            sim.add(user)
            turns = [(user, answer_for(rng, intent, slots))]
            if i < n_multi:
                text, target, extra = follow_ups[i]
                turns.append((text, answer_for(rng, target, {**slots, **extra})))
            convs.append(Conv(intent, turns, [intent]))

    for question in OUT_OF_SCOPE:
        if not sim.ok(question):
            raise RuntimeError(f"out-of-scope question too close to another: {question!r}")
        sim.add(question)
        convs.append(Conv("out_of_scope", [(question, rng.choice(OUT_OF_SCOPE_ANSWERS))], ["out_of_scope", "refusal"]))

    # Exact duplicates: copies of regular conversations from three different intents.
    singles = [c for c in convs if c.intent != "out_of_scope" and len(c.turns) == 1]
    multis = [c for c in convs if len(c.turns) > 1]
    src_identical = rng.choice(singles)
    src_noisy = rng.choice([c for c in singles if c.intent != src_identical.intent])
    src_multi = rng.choice([c for c in multis if c.intent not in (src_identical.intent, src_noisy.intent)])
    copies = []
    for k, (src, how) in enumerate(
        [(src_identical, "identical"), (src_noisy, "case+whitespace"), (src_multi, "identical")]
    ):
        src.plant.update(dup=k, dup_role="original", dup_how=how)
        if how == "identical":
            turns = list(src.turns)
        else:
            turns = [(_noisy(u, 0), _noisy(a, 1)) for u, a in src.turns]
        plant = {"dup": k, "dup_role": "copy", "dup_how": how}
        copies.append(Conv(src.intent, turns, list(src.tags), plant=plant))

    # Missing system prompt: three other single-turn regular conversations.
    candidates = [c for c in singles if not c.plant]
    for c in rng.sample(candidates, N_MISSING_SYSTEM):
        c.system = False
        c.plant["missing_system"] = True

    # Shuffle so intents interleave, then put each copy at least 20 lines away from its original.
    everything = planted_first + convs
    rng.shuffle(everything)
    for copy in copies:
        orig = next(c for c in everything if c.plant.get("dup") == copy.plant["dup"])
        while True:
            pos = rng.randint(0, len(everything))
            if abs(pos - everything.index(orig)) >= 20:
                break
        everything.insert(pos, copy)
    return everything


def _noisy(text: str, variant: int) -> str:
    """Same text up to letter case and whitespace (planted 'case+whitespace' duplicate)."""
    if variant == 0:
        return "  " + text.lower().replace(" ", "  ", 3) + " "
    return text.upper().replace(". ", ".   ") + "\n"


# --------------------------------------------------------------------------
# Checks on what we generate (fail loudly rather than ship a broken example)
# --------------------------------------------------------------------------
def _wc(text: str) -> int:
    return len(text.split())


def self_check(convs: list[Conv]) -> None:
    assert 40 <= _wc(SYSTEM) <= 60, f"system prompt has {_wc(SYSTEM)} words"
    for c in convs:
        msgs = c.messages()
        body = msgs[1:] if c.system else msgs
        roles = [m["role"] for m in body]
        assert roles == ["user", "assistant"] * (len(roles) // 2) and roles, roles
        for m in body:
            if m["role"] == "assistant" and c.plant.get("dup_how") != "case+whitespace":
                assert 25 <= _wc(m["content"]) <= 70, (_wc(m["content"]), m["content"])
            assert "{" not in m["content"] and "[[" not in m["content"], m["content"]
        for value in c.plant.get("values", []):
            assert value in c.turns[0][0]
            assert all(value not in a for _, a in c.turns), f"assistant repeats PII {value!r}"
    firsts = [c.turns[0][0] for c in convs]
    planted_same = {CONFLICT_QUESTION} | {c.turns[0][0] for c in convs if c.plant.get("dup_role") == "copy"}
    dupes = {t for t in firsts if firsts.count(t) > 1} - planted_same
    assert not dupes, f"unplanted identical user messages: {dupes}"


# --------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------
def to_records(convs: list[Conv]) -> list[dict[str, Any]]:
    return [
        {"messages": c.messages(), "meta": {"id": f"sd-{i:04d}", "tags": list(c.tags)}}
        for i, c in enumerate(convs, start=1)
    ]


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual mode
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def planted_lines(convs: list[Conv]) -> dict[str, Any]:
    """1-based line numbers of every planted problem."""
    line = {id(c): i for i, c in enumerate(convs, start=1)}
    out: dict[str, Any] = {
        "exact_duplicates": [],
        "near_duplicates": [],
        "conflict": {},
        "pii": [],
        "missing_system": [],
    }
    for k in range(3):
        orig = next(c for c in convs if c.plant.get("dup") == k and c.plant["dup_role"] == "original")
        copy = next(c for c in convs if c.plant.get("dup") == k and c.plant["dup_role"] == "copy")
        out["exact_duplicates"].append(
            {
                "lines": sorted([line[id(orig)], line[id(copy)]]),
                "copy": line[id(copy)],
                "kind": orig.plant["dup_how"],
                "intent": orig.intent,
                "multi_turn": len(orig.turns) > 1,
            }
        )
    for k in range(len(NEAR_DUPLICATES)):
        pair = [c for c in convs if c.plant.get("near_dup") and c.plant["pair"] == k]
        out["near_duplicates"].append({"lines": sorted(line[id(c)] for c in pair), "intent": pair[0].intent})
    for c in convs:
        if "conflict" in c.plant:
            out["conflict"][c.plant["conflict"]] = line[id(c)]
        if "pii" in c.plant:
            out["pii"].append({"line": line[id(c)], "entities": c.plant["pii"], "intent": c.intent})
        if c.plant.get("missing_system"):
            out["missing_system"].append(line[id(c)])
    out["pii"].sort(key=lambda d: d["line"])
    out["missing_system"].sort()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output file (default {DEFAULT_OUT})")
    parser.add_argument(
        "--manifest", type=Path, default=None, help="also write the planted line numbers as JSON to this path"
    )
    args = parser.parse_args(argv)

    convs = build(args.seed)
    self_check(convs)
    records = to_records(convs)
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    write_atomic(args.out, text)
    planted = planted_lines(convs)
    if args.manifest:
        write_atomic(args.manifest, json.dumps({"seed": args.seed, **planted}, indent=2) + "\n")

    counts: dict[str, int] = {}
    for c in convs:
        counts[c.intent] = counts.get(c.intent, 0) + 1
    multi = sum(len(c.turns) > 1 for c in convs)
    print(f"# support-desk: seed {args.seed}, wrote {len(convs)} conversations to {args.out}")
    print("# planted problems (1-based line numbers of support.jsonl):")
    for d in planted["exact_duplicates"]:
        turns = "multi-turn" if d["multi_turn"] else "single-turn"
        print(
            f"#   exact duplicate ({d['kind']}, {d['intent']}, {turns}): lines {d['lines'][0]} and "
            f"{d['lines'][1]} (the copy is line {d['copy']})"
        )
    for d in planted["near_duplicates"]:
        print(f"#   near duplicate ({d['intent']}): lines {d['lines'][0]} and {d['lines'][1]}")
    c = planted["conflict"]
    print(
        f"#   conflicting answers (return window): line {c['right']} (30 days, correct) "
        f"and line {c['wrong']} (14 days, planted error)"
    )
    for d in planted["pii"]:
        print(f"#   PII ({', '.join(d['entities'])}): line {d['line']}")
    print(f"#   missing system message: lines {', '.join(map(str, planted['missing_system']))}")
    print(f"conversations: {len(convs)}")
    print(f"intents: {len(counts) - 1} (+ out_of_scope)")
    print(f"multi-turn: {multi}")
    print("per intent:")
    for name in sorted(counts):
        print(f"  {name:24s} {counts[name]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
