#!/usr/bin/env python3
"""Generate the `credit-union` example for tunesmith: a second domain, made apart from support-desk.

Harbourview Credit Union is a fictional member-owned credit union; Ava is its member assistant. The script
writes, next to itself:

- ``data/members.jsonl``: the training conversations (about 6-7% of them out-of-scope questions declined in
  Ava's voice, the natural share a real support log has, not a hand-tuned one);
- ``data/test.jsonl``: the project's own test file: in-scope questions phrased apart from every training
  question, with reference answers from the fact sheet, and near-domain out-of-scope questions (another bank,
  personal tax/investment/legal advice, crypto, HR, medical, facts the fact sheet never states) whose reference
  answer is the refusal.

Every answer is built from the fact sheet (``FACTS``) so the two files never disagree. The same seed always writes
byte-identical files; standard library only. Usage::

    python examples/credit-union/generate.py [--seed 11] [--out-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from random import Random

HERE = Path(__file__).resolve().parent
DEFAULT_SEED = 11

# --------------------------------------------------------------------------------------------------------------
# 1. The fact sheet. Every answer is written from these values and nothing else.
# --------------------------------------------------------------------------------------------------------------
FACTS = {
    "org": "Harbourview Credit Union",
    "short": "Harbourview",
    "assistant": "Ava",
    "phone": "0800 555 0142",
    "phone_hours": "Monday to Friday 8am to 8pm and Saturday 9am to 1pm",
    "card_line": "0800 555 0143",  # lost and stolen cards, fraud: 24 hours a day
    "email": "help@harbourview.example",
    "email_reply": "2 business days",
    "complaints_email": "complaints@harbourview.example",
    "complaints_form": "harbourview.example/complaints",
    "phishing_email": "phishing@harbourview.example",
    "online": "online.harbourview.example",
    # membership
    "share": "£5",
    "min_age": 16,
    "join_minutes": 10,
    # accounts
    "saver_rate": "3.10% AER variable",
    "festive_from": "1 November",
    "agm": "June",
    "dividend_paid": "July",
    # cards
    "contactless": "£100",
    "cash_limit": "£500",
    "fx_fee": "2.75%",
    "card_days": "5-7 business days",
    "replacement_fee": "£5",
    "pin_tries": 3,
    # transfers
    "daily_transfer": "£10,000",
    "fp_time": "2 hours",
    "intl_fee": "£15",
    "intl_days": "2-4 business days",
    "chaps_fee": "£20",
    "chaps_cutoff": "2pm",
    "so_cutoff": "11pm the day before",
    # fees and overdraft
    "od_rate": "19.9% EAR variable",
    "od_max": "£1,500",
    "paper_statement": "£2",
    "draft_fee": "£10",
    "late_fee": "£12",
    # loans and mortgages
    "loan_min": "£1,000",
    "loan_max": "£25,000",
    "loan_years": "1 to 7 years",
    "loan_apr": "7.9% APR representative",
    "mort_ltv": "90%",
    "mort_terms": "5 to 35 years",
    "mort_fee": "£999",
    "mort_overpay": "10%",
    "mort_offer": "3-4 weeks",
    # branches
    "quayside_hours": "Monday to Friday 9am to 5pm and Saturday 9am to 12:30pm",
    "other_hours": "Monday to Friday 9:30am to 4:30pm",
    "westfield_late": "Thursday until 6pm",
    "post_office_limit": "£1,000",
    # app
    "passcode_tries": 5,
    "statement_years": 7,
    "ios": "iOS 16",
    "android": "Android 10",
    # complaints
    "ack_days": "3 business days",
    "final_weeks": "8 weeks",
}

BRANCHES = ["Quayside", "Northgate", "Westfield"]
COUNTRIES = ["Spain", "France", "the US", "Portugal", "Italy", "Greece", "Germany", "Canada"]

SYSTEM = (
    "You are Ava, Harbourview Credit Union's member assistant. Harbourview is a member-owned credit union: "
    "accounts, cards, payments, loans and mortgages, branches, the Harbourview app and member services. "
    "Be friendly, clear and brief, in plain British English. Only state Harbourview policies you know; if you "
    "don't know, say so and point to who can help. Never ask for a PIN, passcode or full card number."
)

# --------------------------------------------------------------------------------------------------------------
# 2. Intents. `train` phrasings go to members.jsonl, `test` phrasings only to test.jsonl (never both). Each
#    intent has two answer templates that carry the same facts in nearly the same words. {branch} and {country}
#    in a phrasing are filled from the pools below; answers use FACTS only.
# --------------------------------------------------------------------------------------------------------------
INTENTS: dict[str, dict] = {
    "join": {
        "topic": "membership",
        "train": [
            "How do I become a member?",
            "can anyone join harbourview",
            "What do I need to bring to open an account with you?",
            "I've just moved to the area and I'd like to join the credit union. What's the process?",
            "is there a fee to join",
            "How old do you have to be to join Harbourview?",
            "my daughter is 17, can she sign up on her own?",
            "Can I apply for membership online or do I have to go to {branch}?",
            "What's the membership share and do I get it back?",
        ],
        "test": [
            "Do I have to live locally to be eligible, and what ID will you ask me for?",
            "signing up - how long does the online form take roughly",
        ],
        "answers": [
            "Anyone aged {min_age} or over who lives or works in the Harbourview area can join. Apply online at "
            "harbourview.example in about {join_minutes} minutes or visit any branch with photo ID and proof of "
            "address; membership needs a one-off {share} share, which is returned if you ever leave.",
            "You can join if you're {min_age} or over and live or work in the Harbourview area. It takes about "
            "{join_minutes} minutes online at harbourview.example, or bring photo ID and proof of address to any "
            "branch; you'll buy a one-off {share} membership share, which you get back if you leave.",
        ],
    },
    "dividend": {
        "topic": "membership",
        "train": [
            "Do members get a share of the profits?",
            "when is the dividend paid",
            "How is the annual dividend decided?",
            "I heard credit unions pay members something each year, is that true here?",
            "When's the AGM and can I vote?",
            "where does my dividend go when it's paid out",
            "Did Harbourview pay a dividend this year? When would I see it?",
            "what does being member-owned actually mean for me",
            "Can I go to the annual general meeting?",
        ],
        "test": [
            "Which month does the yearly payout to members land, and into which account?",
            "is there any kind of annual bonus for being a member, and when is the vote on it",
        ],
        "answers": [
            "Harbourview is owned by its members, so any surplus can be shared as an annual dividend. The "
            "dividend is announced at the AGM in {agm}, where every member has one vote, and paid into your "
            "Harbour Saver in {dividend_paid}.",
            "As a member-owned credit union, Harbourview can share its surplus with members as an annual "
            "dividend. It's announced at the AGM each {agm}, where each member gets one vote, and paid into your "
            "Harbour Saver in {dividend_paid}.",
        ],
    },
    "close_account": {
        "topic": "membership",
        "train": [
            "How do I close my account?",
            "i want to leave harbourview, how",
            "Is there a charge for closing my Everyday Account?",
            "I'm moving abroad for good. How do I shut my accounts down?",
            "Can I close my savings account in the app?",
            "close my account please",
            "What happens to my membership share if I close everything?",
            "I'd like to end my membership. Who do I speak to?",
            "can my account be closed over the phone",
        ],
        "test": [
            "If I cancel my membership, is there an exit fee and do I lose my £5?",
        ],
        "answers": [
            "You can close an account free of charge by calling {phone} ({phone_hours}) or visiting any "
            "branch. If you close everything, your {share} membership share is paid back to you.",
            "There's no fee to close an account: just call {phone} ({phone_hours}) or pop into any branch. If you "
            "leave altogether, we return your {share} membership share.",
        ],
    },
    "bereavement": {
        "topic": "member_services",
        "train": [
            "My father passed away and he banked with you. What do I need to do?",
            "how do i tell you about a death",
            "My husband died last month. Can you help me with his account?",
            "Who handles accounts when a member dies?",
            "I'm the executor for my aunt's estate, she was a Harbourview member.",
            "bereavement - where do I start",
            "What documents do you need after someone has died?",
            "Can I register a death at {branch} branch?",
            "my mum died, her savings were with harbourview. sorry if this is the wrong place",
        ],
        "test": [
            "A relative of mine has passed on; who at the credit union deals with that and how do I reach them?",
        ],
        "answers": [
            "I'm very sorry for your loss. Please call our Bereavement team on {phone} and choose option 3, or "
            "visit any branch; bring the death certificate and we'll explain each step.",
            "I'm so sorry for your loss. Our Bereavement team can help: call {phone} and choose option 3, or "
            "visit any branch with the death certificate, and they'll guide you through each step.",
        ],
    },
    "savings": {
        "topic": "accounts",
        "train": [
            "What savings accounts do you have?",
            "whats the interest rate on the harbour saver",
            "Can I take money out of the Harbour Saver whenever I want?",
            "I want to save for Christmas. Do you have anything for that?",
            "Can I open a savings account for my son? He's 9.",
            "When can I withdraw from the Festive Saver?",
            "Is the saver rate fixed?",
            "what's the difference between the Harbour Saver and the Festive Saver",
            "do you do junior accounts",
        ],
        "test": [
            "Looking for somewhere to put money aside for the holidays and for my little one, what are the options?",
            "is easy access savings variable rate or fixed, and what's it paying",
        ],
        "answers": [
            "The Harbour Saver is easy access and pays {saver_rate}, with withdrawals whenever you like. The "
            "Festive Saver lets you save all year and withdraw from {festive_from}, and a parent or guardian can "
            "open a Junior Saver for a child under 16 in any branch.",
            "Our Harbour Saver pays {saver_rate} and you can withdraw any time. For Christmas there's the Festive "
            "Saver, with withdrawals from {festive_from}, and children under 16 can have a Junior Saver opened by "
            "a parent or guardian in branch.",
        ],
    },
    "lost_card": {
        "topic": "cards",
        "train": [
            "I've lost my card, what do I do?",
            "card stolen!!",
            "I think someone took my debit card from my bag on the bus.",
            "lost my harbourview card last night, is it too late to stop it",
            "What's the number for reporting a stolen card?",
            "I left my card in a cash machine and it's gone.",
            "How long does a replacement card take to arrive if mine is lost?",
            "my wallet got nicked with my card in it",
            "Is there a 24 hour line for lost cards?",
        ],
        "test": [
            "Can't find my debit card anywhere since Saturday - how do I stop it and get a new one?",
            "Pickpocketed in town this afternoon, my Visa debit was taken. Who do I ring?",
        ],
        "answers": [
            "Please freeze your card straight away in the app under Cards > Freeze card, then call {card_line}, "
            "which is open 24 hours a day. We'll cancel it and your new card will arrive in {card_days}.",
            "First, freeze the card in the app (Cards > Freeze card), then call us on {card_line}, any time of "
            "day or night. We'll cancel the card and send a new one, which takes {card_days}.",
        ],
    },
    "freeze_card": {
        "topic": "cards",
        "train": [
            "How do I freeze my card?",
            "can i temporarily block my card if I can't find it",
            "I think my card is just somewhere in the house. Can I lock it for now?",
            "Can I unfreeze it myself once I've found the card?",
            "Where's the freeze option in the app?",
            "freeze card",
            "If I freeze my card, will my direct debits still go out?",
            "Is there a way to pause my debit card without cancelling it?",
            "I froze my card by mistake, how do I turn it back on",
        ],
        "test": [
            "Misplaced my card at home probably, is there a temporary lock I can switch on and off myself?",
            "Put a hold on my debit card for a couple of days while I look for it, possible?",
        ],
        "answers": [
            "In the Harbourview app, go to Cards > Freeze card; tap it again to unfreeze whenever you like. While "
            "it's frozen, card payments and cash withdrawals are blocked, but direct debits and standing orders "
            "still go out.",
            "Open the app and go to Cards > Freeze card, and tap the same option to unfreeze it. Card payments and "
            "cash withdrawals are stopped while it's frozen, but your direct debits and standing orders carry on.",
        ],
    },
    "pin": {
        "topic": "cards",
        "train": [
            "I forgot my PIN.",
            "how do i change my pin",
            "Where can I see my PIN in the app?",
            "My card is blocked after I got the PIN wrong. What now?",
            "i typed the wrong pin 3 times at the shop",
            "Can you send me my PIN by post?",
            "Can I change my PIN to something easier to remember?",
            "What happens if I enter my PIN incorrectly too many times?",
            "new card came but I don't know the pin",
        ],
        "test": [
            "Card got locked after a few bad PIN attempts at the till, how do I get it working again?",
            "Where would I look up my card number code thingy, the 4 digits, if I've forgotten it?",
        ],
        "answers": [
            "You can see your PIN in the app under Cards > View PIN, and change it at any UK cash machine. After "
            "{pin_tries} wrong tries the card is blocked; check your PIN in the app, then unblock it at any UK "
            "cash machine using PIN services.",
            "Your PIN is in the Harbourview app under Cards > View PIN, and you can change it at any UK cash "
            "machine. If it's blocked after {pin_tries} wrong attempts, check the PIN in the app and unblock it "
            "at any UK cash machine through PIN services.",
        ],
    },
    "card_abroad": {
        "topic": "cards",
        "train": [
            "Can I use my card in {country}?",
            "do i need to tell you im going on holiday",
            "Are there fees for using my debit card abroad?",
            "Going to {country} next week, will my card work there?",
            "how much does it cost to take cash out overseas",
            "Do you charge for paying in euros?",
            "Is there a foreign transaction fee on the Harbourview card?",
            "I'm travelling to {country} in the summer, anything I should know about my card?",
            "will i be charged for spending in dollars",
        ],
        "test": [
            "Off to {country} for a fortnight, what will it cost me to pay by card and use ATMs out there?",
            "Heading to {country}; is there a percentage charged on non-sterling spending?",
        ],
        "answers": [
            "Your Harbourview Visa debit card works abroad and you don't need to tell us before you travel. We "
            "charge a {fx_fee} fee on payments and cash withdrawals in a foreign currency, and no extra cash "
            "machine fee of our own.",
            "Yes, your Harbourview Visa debit card works wherever Visa is accepted, and there's no need to tell us "
            "you're travelling. Payments and withdrawals in another currency have a {fx_fee} fee; we don't add a "
            "separate cash machine fee.",
        ],
    },
    "card_limits": {
        "topic": "cards",
        "train": [
            "What's the contactless limit?",
            "how much cash can i take out in one day",
            "Is there a daily limit on ATM withdrawals?",
            "why did my contactless payment of £120 not work",
            "Can I withdraw £700 from a cash machine today?",
            "Do you charge for using other banks' cash machines?",
            "max contactless payment?",
            "I need to take out a lot of cash for a car, what's the most I can get from an ATM?",
            "what are the card limits on the everyday account",
        ],
        "test": [
            "Is there a cap on tap-to-pay, and on how much cash I can get out per day?",
            "At the supermarket, up to what amount can I just tap without entering my PIN?",
        ],
        "answers": [
            "Contactless payments can be up to {contactless} each; above that you'll be asked for your PIN. You "
            "can take out up to {cash_limit} a day from cash machines, free at any UK cash machine.",
            "The contactless limit is {contactless} per payment, and larger payments need your PIN. The daily "
            "cash machine limit is {cash_limit}, and withdrawals at UK cash machines are free.",
        ],
    },
    "mobile_wallet": {
        "topic": "cards",
        "train": [
            "Can I add my card to Apple Pay?",
            "does harbourview work with google pay",
            "How do I put my debit card on my phone?",
            "Is there a limit on Apple Pay payments?",
            "can i pay with my watch",
            "My card won't add to Google Wallet, what should I try?",
            "Do you support mobile payments?",
            "How do I set up contactless on my phone with my Harbourview card?",
            "apple pay??",
        ],
        "test": [
            "Want to tap my phone at the shops instead of carrying plastic, how do I get my Harbourview card onto it?",
            "Is there a spending cap when paying with my smartwatch?",
        ],
        "answers": [
            "Yes, your Harbourview card works with Apple Pay and Google Pay. In the app, go to Cards > Add to "
            "wallet and follow the steps; phone and watch payments have no contactless limit, because you confirm "
            "them on the device.",
            "You can add your Harbourview card to Apple Pay or Google Pay from the app: go to Cards > Add to "
            "wallet. Payments with your phone or watch have no contactless limit, because you confirm them on the "
            "device.",
        ],
    },
    "send_money": {
        "topic": "transfers",
        "train": [
            "How do I send money to someone?",
            "whats the daily transfer limit",
            "How long does a bank transfer take to arrive?",
            "I need to pay my builder £6,000, can I do that in the app?",
            "how do i add a new payee",
            "Can I transfer £12,000 in one go?",
            "Why hasn't my payment to my sister arrived yet? I sent it 20 minutes ago.",
            "Are Faster Payments free?",
            "transfer money to friend",
        ],
        "test": [
            "Paying my landlord for the first time, how do I set him up and when will he get it?",
            "what's the most I can move out of my account online in a single day",
        ],
        "answers": [
            "In the app, go to Payments > Pay someone, or add a new payee under Payments > Payees. UK payments are "
            "free, you can send up to {daily_transfer} a day, and most arrive within {fp_time}, often in seconds.",
            "Go to Payments > Pay someone in the app; new payees are added under Payments > Payees. Sending money "
            "in the UK is free, the daily limit is {daily_transfer}, and payments usually arrive within {fp_time}.",
        ],
    },
    "standing_orders": {
        "topic": "transfers",
        "train": [
            "How do I set up a standing order?",
            "can i cancel a direct debit in the app",
            "I want to change the amount on my standing order.",
            "how to stop a direct debit",
            "What's the cut-off for changing a standing order before it goes out?",
            "Can I set up a direct debit myself?",
            "My gym keeps taking money, how do I cancel the direct debit?",
            "set up regular monthly payment to my savings",
            "Where do I see all my direct debits?",
        ],
        "test": [
            "Rent goes out on the 1st by standing order - what's the last moment I can amend it?",
            "want to stop a company taking regular payments from me, where in the app",
        ],
        "answers": [
            "Standing orders are under Payments > Standing orders, where you can set up, change or cancel them "
            "until {so_cutoff}. Direct debits are set up with the company you're paying, and you can see or "
            "cancel them under Payments > Direct debits.",
            "You'll find standing orders in the app under Payments > Standing orders; changes or cancellations "
            "work until {so_cutoff}. Direct debits are set up by the company you pay, and you can view or cancel "
            "them under Payments > Direct debits.",
        ],
    },
    "international_payment": {
        "topic": "transfers",
        "train": [
            "Can I send money abroad?",
            "how much is an international transfer",
            "I need to send money to my mum in {country}.",
            "Can I make an international payment in the app?",
            "how long does it take to send money to {country}",
            "What's a CHAPS payment and how much does it cost?",
            "I need a same-day payment for my house purchase. How do I do that?",
            "do you do bankers drafts",
            "Can I pay a supplier in {country} from my Everyday Account?",
        ],
        "test": [
            "Need to wire some money overseas to {country}, what's the fee and how many days will it take?",
            "Solicitor needs the completion money today - can you send it same day and what does that cost?",
        ],
        "answers": [
            "International payments are made in any branch for a {intl_fee} fee and usually arrive in "
            "{intl_days}; they can't be made in the app. For a same-day UK payment, a CHAPS payment costs "
            "{chaps_fee} in branch before {chaps_cutoff}.",
            "You can send money abroad from any branch; it costs {intl_fee} and usually takes {intl_days}, and "
            "it isn't available in the app. Same-day CHAPS payments in the UK cost {chaps_fee} and must be "
            "requested in branch before {chaps_cutoff}.",
        ],
    },
    "wrong_payment": {
        "topic": "transfers",
        "train": [
            "I sent money to the wrong account!",
            "i made a typo in the account number, can i get the money back",
            "Can you reverse a payment I made by mistake?",
            "paid the wrong person, help",
            "I transferred £300 to an old account of my friend's that's closed. What happens now?",
            "How do I recall a payment?",
            "Sent my rent to the wrong sort code this morning.",
            "Is it possible to cancel a transfer after it's gone?",
            "What do I do if I paid someone twice by accident?",
        ],
        "test": [
            "Accidentally paid £80 to a stranger instead of my plumber, what are my chances of getting it back?",
        ],
        "answers": [
            "Please call us on {phone} as soon as you can ({phone_hours}). We'll contact the bank that received the "
            "money and ask for it back, but we can't guarantee it can be recovered.",
            "Call us on {phone} as soon as possible ({phone_hours}). We'll ask the receiving bank to return the "
            "money, though we can't promise it will be recovered.",
        ],
    },
    "overdraft": {
        "topic": "fees",
        "train": [
            "Do you offer overdrafts?",
            "whats the overdraft interest rate",
            "What happens if I go overdrawn without an overdraft?",
            "How do I apply for an overdraft?",
            "Is there a fee if a payment bounces?",
            "How much overdraft can I get?",
            "can i increase my overdraft in the app",
            "Do you charge for an unarranged overdraft?",
            "overdraft limit on everyday account?",
        ],
        "test": [
            "If my balance can't cover a card payment and I've got no agreed borrowing, does that cost me anything?",
            "what's the most agreed borrowing I can have on my current account and at what rate",
        ],
        "answers": [
            "You can apply for an arranged overdraft of up to {od_max} in the app under Accounts > Overdraft; it "
            "costs {od_rate}. We don't allow unarranged overdrafts: a payment you don't have the money for is "
            "declined, with no fee.",
            "An arranged overdraft of up to {od_max} is available, at {od_rate}; apply in the app under Accounts > "
            "Overdraft. There are no unarranged overdrafts, so a payment you can't cover is simply declined and "
            "there's no fee.",
        ],
    },
    "fees_list": {
        "topic": "fees",
        "train": [
            "Is there a monthly fee on the Everyday Account?",
            "What fees do you charge?",
            "how much is a paper statement",
            "Do I have to pay for a replacement card?",
            "are there any hidden charges",
            "What does a banker's draft cost?",
            "Is online banking free?",
            "My card got damaged, do I pay for a new one?",
            "list of charges please",
        ],
        "test": [
            "Does the current account cost anything monthly, and what would I pay to have statements posted to me?",
            "Lost count of my cards this year - is a third replacement chargeable?",
        ],
        "answers": [
            "The Everyday Account has no monthly fee, and online banking and e-statements are free. Paper "
            "statements cost {paper_statement} each, a banker's draft is {draft_fee}, and your first replacement "
            "card in 12 months is free, then {replacement_fee}.",
            "There's no monthly fee on the Everyday Account, and the app, online banking and e-statements are "
            "free. We charge {paper_statement} per paper statement and {draft_fee} for a banker's draft; one "
            "replacement card every 12 months is free, after that it's {replacement_fee}.",
        ],
    },
    "personal_loan": {
        "topic": "loans",
        "train": [
            "How much can I borrow with a personal loan?",
            "whats your loan apr",
            "I want a loan for a car. How do I apply?",
            "How long does it take to get a decision on a loan?",
            "can i borrow 30k",
            "What's the longest I can spread a loan over?",
            "Do I have to be a member to get a loan?",
            "When would the loan money reach my account?",
            "I need £4,000 for a new kitchen, is that something you do?",
        ],
        "test": [
            "Thinking of borrowing for home improvements - minimum and maximum amounts, and how long to pay it back?",
            "how fast is an answer on a loan application and whats the rate",
        ],
        "answers": [
            "Personal loans are from {loan_min} to {loan_max} over {loan_years}, at {loan_apr}, for members aged "
            "18 or over. Apply in the app under Loans > Apply for a loan or in any branch; we usually decide within "
            "1 business day and pay the money in within 2 business days of signing.",
            "Members aged 18 or over can borrow {loan_min} to {loan_max} over {loan_years}, at {loan_apr}. You can "
            "apply in the app (Loans > Apply for a loan) or in branch; most decisions take 1 business day, and the "
            "money arrives within 2 business days of signing.",
        ],
    },
    "loan_repayment": {
        "topic": "loans",
        "train": [
            "Can I pay my loan off early?",
            "is there a penalty for overpaying my loan",
            "I'm going to miss a loan payment this month.",
            "What happens if I can't make my loan repayment?",
            "how do i make an extra payment on my loan",
            "Is there a late payment fee on loans?",
            "I've lost my job and I'm worried about my loan payments.",
            "can i settle my loan now",
            "How much would it cost to repay my loan in full?",
        ],
        "test": [
            "Money's tight and the next instalment is due Friday; what should I do, and will I be charged?",
        ],
        "answers": [
            "You can overpay or repay your loan early at any time with no fee, under Loans > Repay in the app. If "
            "you're worried about a payment, call {phone} as early as you can so we can talk through your options; "
            "a missed payment has a {late_fee} late fee.",
            "Early repayments and overpayments are free; use Loans > Repay in the app. If you might miss a payment, "
            "please call {phone} early and we'll go through your options with you, as a missed payment costs "
            "{late_fee}.",
        ],
    },
    "mortgage": {
        "topic": "mortgages",
        "train": [
            "Do you do mortgages?",
            "what's the biggest mortgage you'll lend as a percentage of the house",
            "I'm a first-time buyer. Can Harbourview help?",
            "Can I remortgage with you?",
            "How do I book a mortgage appointment?",
            "Is there an arrangement fee on your mortgages?",
            "how long can a mortgage term be",
            "Can I overpay my Harbourview mortgage?",
            "typical wait for a mortgage offer?",
        ],
        "test": [
            "We've saved a 10% deposit for our first flat - is that enough for you, and who do we talk to?",
            "Switching my home loan over to Harbourview: what fee is there and how long will the offer take?",
        ],
        "answers": [
            "The Harbourview Home Mortgage is for buying or remortgaging, up to {mort_ltv} of the property's value, "
            "over {mort_terms}, with a {mort_fee} arrangement fee. Book a free appointment with a mortgage adviser "
            "on {phone} or in the app under More > Book an appointment; offers usually take {mort_offer}.",
            "Our Home Mortgage covers buying a home or remortgaging: up to {mort_ltv} loan-to-value over "
            "{mort_terms}, and the arrangement fee is {mort_fee}. To start, book a free mortgage adviser appointment "
            "on {phone} or via More > Book an appointment; an offer usually takes {mort_offer}.",
        ],
    },
    "branch_hours": {
        "topic": "branches",
        "train": [
            "What time does {branch} open?",
            "are you open saturday",
            "Is the {branch} branch open on Sunday?",
            "What are your branch opening hours?",
            "what time do you close today",
            "Which branch is open latest in the week?",
            "Are you open on bank holidays?",
            "Opening times for {branch} please",
            "Can I visit a branch on a Saturday morning?",
        ],
        "test": [
            "I work 9 to 5 weekdays; when could I get into one of your branches?",
            "does {branch} do weekend hours",
        ],
        "answers": [
            "Quayside is open {quayside_hours}. Northgate and Westfield are open {other_hours}, with Westfield "
            "open late on {westfield_late}. All branches are closed on Sundays and bank holidays.",
            "Our Quayside branch opens {quayside_hours}, and Northgate and Westfield open {other_hours}; Westfield "
            "also stays open on {westfield_late}. Every branch is closed on Sundays and bank holidays.",
        ],
    },
    "cash_deposit": {
        "topic": "branches",
        "train": [
            "How do I pay cash into my account?",
            "can i deposit cash at the post office",
            "Can I pay in a cheque using the app?",
            "Is there a limit for paying in cash at the Post Office?",
            "where can i pay in coins",
            "I got a cheque for my birthday, how do I bank it?",
            "Do I need a paying-in slip at the branch?",
            "nearest place to deposit cash if I'm not near a branch",
            "How long does a cheque take to clear?",
        ],
        "test": [
            "Got about £600 in notes from selling my bike - where can I put it into my Everyday Account?",
            "Can the post office take a deposit for Harbourview, and is there a ceiling?",
        ],
        "answers": [
            "You can pay cash in at any branch, or at the Post Office with your Harbourview card, up to "
            "{post_office_limit} a day. Cheques can be paid in at any branch.",
            "Cash can be paid in at any branch, or at any Post Office counter using your Harbourview card, up to "
            "{post_office_limit} a day. To pay in a cheque, bring it to any branch.",
        ],
    },
    "app_login": {
        "topic": "app",
        "train": [
            "I forgot my app passcode.",
            "locked out of the app",
            "How do I reset my online banking login?",
            "The app says my account is locked after too many attempts.",
            "I got a new phone, how do I set up the app again?",
            "what phones does the harbourview app work on",
            "Can I use fingerprint to log in?",
            "how do i register for online banking",
            "App won't let me in, keeps saying wrong passcode",
        ],
        "test": [
            "Swapped handsets at the weekend and now I can't get into banking, what are the steps?",
            "Does the app run on an old Android phone?",
        ],
        "answers": [
            "Tap Forgotten details? on the login screen and follow the steps with your Harbourview card and the "
            "code we text you; the app locks after {passcode_tries} wrong passcodes and this unlocks it. The app "
            "works on {ios} or later and {android} or later, and the same login works at {online}.",
            "On the login screen, tap Forgotten details? and confirm with your Harbourview card and a texted code; "
            "that also unlocks the app after {passcode_tries} wrong passcodes. You'll need {ios} or later or "
            "{android} or later, and the same details log you in at {online}.",
        ],
    },
    "statements": {
        "topic": "app",
        "train": [
            "How do I download a statement?",
            "where are my statements in the app",
            "I need 3 months of statements for a rental application.",
            "How far back can I see my statements?",
            "can i get paper statements",
            "Can I get a statement from 2019?",
            "I need to print off a bank statement, where do I find one?",
            "need a statement for my visa application",
            "Do you still post statements?",
        ],
        "test": [
            "My letting agent wants proof of my transactions for the last quarter - where do I get that as a PDF?",
            "Are e-statements charged for, and do you keep older ones?",
        ],
        "answers": [
            "In the app, go to Accounts, choose the account and tap Statements; you can download up to "
            "{statement_years} years as PDFs for free. Paper statements are also available at {paper_statement} "
            "each.",
            "Choose the account under Accounts in the app and tap Statements to download PDFs, free, for the last "
            "{statement_years} years. If you'd like a paper statement, it costs {paper_statement}.",
        ],
    },
    "update_details": {
        "topic": "app",
        "train": [
            "Where do I update my home address?",
            "i have a new phone number, how do i update it",
            "I'm moving house next month. What do I need to do?",
            "Can I change my email address in the app?",
            "I've got married and changed my surname.",
            "update my address",
            "How do I change the name on my account?",
            "my details are out of date, where do i change them",
            "Do I need to come in to change my address?",
        ],
        "test": [
            "Recently divorced and going back to my maiden name; how do I get that changed on my cards and account?",
            "Where in the app do I put my new mobile number?",
        ],
        "answers": [
            "You can update your address, phone number and email in the app under More > Profile. To change your "
            "name, bring your original marriage certificate, deed poll or other document to any branch.",
            "Address, phone and email changes are done in the app under More > Profile. A name change needs a "
            "visit to any branch with the original document, such as your marriage certificate or deed poll.",
        ],
    },
    "complaints": {
        "topic": "complaints",
        "train": [
            "I want to make a complaint.",
            "how do i complain",
            "I'm really unhappy with how my loan application was handled.",
            "Who do I complain to about a member of staff?",
            "How long will it take to deal with my complaint?",
            "What if I'm not happy with your response to my complaint?",
            "Is there an email address for complaints?",
            "your service has been terrible and i want it on record",
            "can i escalate my complaint to the ombudsman",
        ],
        "test": [
            "Not satisfied with how a payment issue was sorted out, what's the formal process and timescale?",
            "been waiting ages for a reply to my complaint, when should I hear back",
        ],
        "answers": [
            "I'm sorry you've had a bad experience. You can complain online at {complaints_form}, by email to "
            "{complaints_email}, on {phone} or in any branch; we acknowledge it within {ack_days} and send a final "
            "response within {final_weeks}, and if you're still unhappy you can go to the Financial Ombudsman "
            "Service for free.",
            "I'm sorry things went wrong. Complain through {complaints_form}, at {complaints_email}, on {phone} or "
            "in branch; we'll acknowledge it within {ack_days} and give a final response within {final_weeks}, "
            "after which you can take it to the Financial Ombudsman Service free of charge.",
        ],
    },
    "fraud": {
        "topic": "security",
        "train": [
            "I got a text from Harbourview asking me to confirm my details. Is it real?",
            "someone called saying they're from your fraud team and asked me to move my money to a safe account",
            "How do I report a scam?",
            "There's a payment on my account I don't recognise.",
            "I think I gave my details to a fake website.",
            "where do i forward a phishing email",
            "Would Harbourview ever ask for my PIN?",
            "I've been scammed, what do I do?",
            "Is this email from you? It says my account will be closed.",
        ],
        "test": [
            "A man on the phone said he was from Harbourview security and wanted my passcode, was that genuine?",
            "two card transactions from last night weren't me",
        ],
        "answers": [
            "We'll never ask for your PIN or full passcode, or ask you to move money to a safe account. If something "
            "looks wrong, freeze your card in the app and call {card_line} (24 hours a day); forward suspicious "
            "emails to {phishing_email}.",
            "Harbourview will never ask for your PIN or full passcode, or tell you to move money to a safe account. "
            "Please freeze your card in the app and call {card_line}, open 24 hours a day; suspicious emails can "
            "be forwarded to {phishing_email}.",
        ],
    },
    "contact_us": {
        "topic": "contact",
        "train": [
            "How do I speak to a real person?",
            "whats your phone number",
            "What are your phone line opening hours?",
            "Can I email you?",
            "how quickly do you answer emails",
            "Is there a number I can call on Saturday?",
            "I'd like to talk to someone about my account.",
            "contact details?",
            "Can I ring you on a Sunday?",
        ],
        "test": [
            "Rather talk to a human than a bot - what's the best way to reach member support and when?",
            "What's the turnaround on replies to help@ emails?",
        ],
        "answers": [
            "You can call us on {phone}, {phone_hours}, or email {email} and we'll reply within {email_reply}. For a "
            "lost or stolen card or fraud, call {card_line}, 24 hours a day.",
            "Our team is on {phone}, {phone_hours}, and at {email}, where we reply within {email_reply}. Lost or "
            "stolen cards and fraud can be reported on {card_line} at any time.",
        ],
    },
}

# --------------------------------------------------------------------------------------------------------------
# 3. Out-of-scope questions, each with who can help. `kind` says why it is out of scope; the hard ones sit next to
#    the domain. The training share is the natural one (about 6-7%); the test file has its own, different ones.
# --------------------------------------------------------------------------------------------------------------
REFUSALS = [
    "I'm sorry, I can only help with Harbourview accounts and services, so I can't advise on that. For {who}.",
    "I'm afraid that's not something I can help with: I can only help with Harbourview accounts and services. "
    "For {who}.",
]
UNKNOWN = "I'm sorry, I don't have that information. I can only help with Harbourview accounts and services; for {who}."

TRAIN_OOS = [  # (question, kind, who can help)
    ("What's the overdraft rate at Barclays?", "other_bank", "another bank's products, please ask that bank directly"),
    (
        "Can you check my Santander credit card balance?",
        "other_bank",
        "another bank's accounts, please contact that bank",
    ),
    (
        "Should I put my savings into index funds or shares?",
        "investment_advice",
        "investment advice, please speak to a regulated financial adviser",
    ),
    (
        "How much tax will I pay on my rental income?",
        "tax_advice",
        "tax questions, please ask HMRC or a qualified tax adviser",
    ),
    (
        "My landlord won't return my deposit, can I take him to court?",
        "legal_advice",
        "legal questions, please speak to a solicitor or Citizens Advice",
    ),
    (
        "Is now a good time to buy Bitcoin?",
        "crypto",
        "cryptocurrency questions, please do your own research or ask a regulated adviser",
    ),
    (
        "What mortgage rate would Nationwide give me?",
        "other_lender",
        "another lender's mortgages, please contact that lender or a mortgage broker",
    ),
    (
        "I've had a bad headache for three days, what should I take?",
        "medical",
        "medical questions, please contact your GP or call NHS 111",
    ),
    (
        "My employer hasn't paid my overtime, what are my rights?",
        "hr",
        "employment questions, please speak to your employer's HR team or Acas",
    ),
    (
        "How many people work at Harbourview?",
        "unknown_fact",
        "questions about the credit union itself, please call 0800 555 0142",
    ),
    (
        "Who is the manager at the Northgate branch?",
        "unknown_fact",
        "questions about our staff, please call 0800 555 0142",
    ),
    (
        "Which energy supplier is cheapest right now?",
        "other_service",
        "energy prices, please use a price comparison site",
    ),
    ("What will the weather be like this weekend?", "general", "the weather, please check a forecast service"),
    ("Can you give me a recipe for lasagne?", "general", "recipes, a cookery website is the best place to look"),
    ("Who won the football last night?", "general", "sports results, please check a news website"),
    (
        "Write me a poem about the sea.",
        "general",
        "anything else, a general assistant or search engine is the best place to ask",
    ),
    (
        "Can you help me fix a bug in my Python code?",
        "general",
        "programming help, a developer forum is the best place to ask",
    ),
    (
        "What's the best car insurance company?",
        "other_service",
        "insurance, please use a comparison site or ask an insurance broker",
    ),
]

TEST_OOS = [
    (
        "Does HSBC charge for sending money to Spain?",
        "other_bank",
        "another bank's fees, please ask that bank directly",
    ),
    (
        "Is the Monzo savings pot better than your Harbour Saver?",
        "other_bank",
        "another bank's products, please ask that bank directly",
    ),
    (
        "Which stocks would you buy with a £20,000 inheritance?",
        "investment_advice",
        "investment advice, please speak to a regulated financial adviser",
    ),
    (
        "Do I have to declare my side hustle on a self-assessment return?",
        "tax_advice",
        "tax questions, please ask HMRC or a qualified tax adviser",
    ),
    (
        "Can my ex stop me selling our jointly owned house?",
        "legal_advice",
        "legal questions, please speak to a solicitor or Citizens Advice",
    ),
    ("What's the price of Ethereum today?", "crypto", "cryptocurrency prices, please check a market data website"),
    (
        "Would Halifax lend me five times my salary for a mortgage?",
        "other_lender",
        "another lender's mortgages, please contact that lender or a mortgage broker",
    ),
    (
        "Should I move my workplace pension into a SIPP?",
        "pension_advice",
        "pension advice, please speak to a regulated financial adviser or MoneyHelper",
    ),
    (
        "Is it safe to take ibuprofen with my blood pressure tablets?",
        "medical",
        "medical questions, please contact your GP, a pharmacist or NHS 111",
    ),
    (
        "How many days of annual leave am I legally entitled to?",
        "hr",
        "employment questions, please speak to your employer's HR team or Acas",
    ),
    (
        "What is the CEO of Harbourview paid each year?",
        "unknown_fact",
        "questions about the credit union itself, please call 0800 555 0142",
    ),
    (
        "How much profit did Harbourview make last year?",
        "unknown_fact",
        "questions about the credit union itself, please call 0800 555 0142",
    ),
    (
        "Is Harbourview planning to open a branch in Eastbridge?",
        "unknown_fact",
        "questions about the credit union itself, please call 0800 555 0142",
    ),
    (
        "Can you recommend a good home insurance policy for a first flat?",
        "other_service",
        "insurance, please use a comparison site or ask an insurance broker",
    ),
]

# --------------------------------------------------------------------------------------------------------------
# 4. User styles: plain, terse, chatty (greeting and sign-off), and an occasional typo.
# --------------------------------------------------------------------------------------------------------------
GREETINGS = ["Hi,", "Hello,", "Hi there!", "hey", "Good morning,", "Hello Ava,", "Hiya,", "Afternoon,"]
SIGNOFFS = ["Thanks!", "thanks", "Many thanks.", "Cheers", "Thank you.", "ta", "Thanks in advance."]


def _typo(rng: Random, text: str) -> str:
    """Swap two neighbouring letters inside one longer word (a slip of the thumb)."""
    words = text.split(" ")
    spots = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha() and w.islower()]
    if not spots:
        return text
    i = rng.choice(spots)
    w = words[i]
    j = rng.randrange(1, len(w) - 2)
    words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    return " ".join(words)


def style(rng: Random, text: str) -> str:
    roll = rng.random()
    if roll < 0.40:
        out = text
    elif roll < 0.60:  # terse: lowercase, no final punctuation
        out = text[0].lower() + text[1:]
        out = out.rstrip("?.!")
    elif roll < 0.88:  # chatty
        out = f"{rng.choice(GREETINGS)} {text[0].lower() + text[1:] if rng.random() < 0.3 else text}"
        if rng.random() < 0.6:
            out = f"{out} {rng.choice(SIGNOFFS)}"
    else:
        out = text
    if rng.random() < 0.15:
        out = _typo(rng, out)
    return out


def fill(rng: Random, template: str) -> str:
    if "{branch}" in template:
        template = template.replace("{branch}", rng.choice(BRANCHES))
    if "{country}" in template:
        template = template.replace("{country}", rng.choice(COUNTRIES))
    return template


# --------------------------------------------------------------------------------------------------------------
# 5. Build, check, write.
# --------------------------------------------------------------------------------------------------------------
def conv(user: str, answer: str, cid: str, tags: list[str]) -> dict:
    return {
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": user},
            {"role": "assistant", "content": answer},
        ],
        "meta": {"id": cid, "tags": tags},
    }


def answer(rng: Random, intent: str) -> str:
    return rng.choice(INTENTS[intent]["answers"]).format(**FACTS)


def refusal(rng: Random, kind: str, who: str) -> str:
    if kind == "unknown_fact":
        return UNKNOWN.format(who=who)
    return rng.choice(REFUSALS).format(who=who)


def build(seed: int) -> tuple[list[dict], list[dict]]:
    rng = Random(seed)
    train: list[tuple[str, str, list[str]]] = []
    for intent, spec in INTENTS.items():
        for phrase in spec["train"]:
            train.append((style(rng, fill(rng, phrase)), answer(rng, intent), [spec["topic"], intent]))
    for q, kind, who in TRAIN_OOS:
        train.append((style(rng, q), refusal(rng, kind, who), ["refusal", "out_of_scope", kind]))
    rng.shuffle(train)
    members = [conv(u, a, f"hv-{i:04d}", t) for i, (u, a, t) in enumerate(train, 1)]

    test: list[tuple[str, str, list[str]]] = []
    for intent, spec in INTENTS.items():
        for phrase in spec["test"]:
            # reference answers are the first template: the test file does not depend on the shuffle
            ref = spec["answers"][0].format(**FACTS)
            test.append((fill(rng, phrase), ref, [spec["topic"], intent]))
    for q, kind, who in TEST_OOS:
        test.append((q, refusal(Random(q), kind, who), ["refusal", "out_of_scope", kind]))
    tests = [conv(u, a, f"hv-test-{i:03d}", t) for i, (u, a, t) in enumerate(test, 1)]
    return members, tests


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9£']+", text.lower()))


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def self_check(members: list[dict], tests: list[dict]) -> None:
    """No two user turns alike (word Jaccard < 0.6), answers 1-3 sentences, facts all used, no placeholders."""
    users = [(r["meta"]["id"], r["messages"][1]["content"]) for r in members + tests]
    sets = [(cid, _words(u)) for cid, u in users]
    bad = []
    for i in range(len(sets)):
        for j in range(i + 1, len(sets)):
            s = _jaccard(sets[i][1], sets[j][1])
            if s >= 0.6:
                bad.append((sets[i][0], sets[j][0], round(s, 2)))
    if bad:
        raise SystemExit(f"near-duplicate user turns: {bad}")
    for r in members + tests:
        text = r["messages"][2]["content"]
        if "{" in text or "}" in text:
            raise SystemExit(f"unfilled slot in {r['meta']['id']}: {text}")
        n = len(re.findall(r"[.!?](?:\s|$)", text))
        if not 1 <= n <= 3:
            raise SystemExit(f"{r['meta']['id']}: {n} sentences: {text}")
    used = " ".join(r["messages"][2]["content"] for r in members)
    missing = [k for k, v in FACTS.items() if str(v) not in used and k not in ("org", "assistant")]
    if missing:
        raise SystemExit(f"facts no training answer states: {missing}")


def write_atomic(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--out-dir", type=Path, default=HERE / "data")
    args = ap.parse_args(argv)
    members, tests = build(args.seed)
    self_check(members, tests)
    write_atomic(args.out_dir / "members.jsonl", members)
    write_atomic(args.out_dir / "test.jsonl", tests)
    n_ref = sum("refusal" in r["meta"]["tags"] for r in members)
    t_ref = sum("refusal" in r["meta"]["tags"] for r in tests)
    print(
        f"members.jsonl: {len(members)} conversations, {n_ref} refusals ({n_ref / len(members):.1%}), "
        f"{len(INTENTS)} intents; test.jsonl: {len(tests) - t_ref} in scope, {t_ref} out of scope",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
