#!/usr/bin/env python3
"""Generate the `hr-policy` example for tunesmith: a third domain, written apart from the other two.

Brightwater Logistics is a fictional Irish logistics company of about 450 people; Orla is its HR assistant for
employees. The script writes, next to itself:

- ``data/employees.jsonl``: the training conversations, as an HR helpdesk log would hold them (about 7-8% of
  them questions Orla declines, some far off-topic and a few near it: the natural share, not a tuned one);
- ``data/test.jsonl``: the project's own test file: in-scope questions worded apart from every training
  question, with reference answers from the fact sheet, and near-domain out-of-scope questions (IT support,
  legal, medical, personal tax, another employer's policy, personal finance, facts the sheet never states) whose
  reference answer is a refusal that says who can help.

Every answer is built from the fact sheet (``FACTS``) so the two files never disagree. The same seed always writes
byte-identical files; standard library only. Usage::

    python examples/hr-policy/generate.py [--seed 24] [--out-dir DIR]
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
DEFAULT_SEED = 24

# --------------------------------------------------------------------------------------------------------------
# 1. The fact sheet. Every answer is written from these values and nothing else.
# --------------------------------------------------------------------------------------------------------------
FACTS = {
    "org": "Brightwater Logistics",
    "short": "Brightwater",
    "assistant": "Orla",
    # contact
    "hr_email": "hr@brightwater.example",
    "hr_phone": "091 555 0120",
    "hr_hours": "Monday to Friday 9am to 5pm",
    "payroll_email": "payroll@brightwater.example",
    "travel_email": "travel@brightwater.example",
    "hub_url": "people.brightwater.example",
    "eap_phone": "1800 555 0199",
    "speakup_phone": "1800 555 0188",
    # annual leave and holidays
    "leave_days": 23,
    "leave_long": 25,
    "leave_long_years": 5,
    "leave_notice": "2 weeks",
    "approve_days": "5 working days",
    "carry_days": 5,
    "carry_by": "31 March",
    "public_holidays": 10,
    "lieu_within": "a month",
    # sickness
    "sick_call_by": "9:30am",
    "self_cert_days": 2,
    "sick_full_pay": "20 working days",
    "sick_window": "12 months",
    # family and compassionate leave
    "mat_weeks": 26,
    "mat_unpaid": 16,
    "mat_topup": 18,
    "pat_weeks": 2,
    "pat_within": "6 months",
    "family_notice": "4 weeks",
    "compassionate_days": 5,
    # pay
    "payday": "25th",
    "payslip_days": "2 working days",
    "pay_cutoff": "10th",
    # expenses and travel
    "expense_days": 60,
    "mileage": "€0.40 per km",
    "meal_cap": "€30 a day",
    "hotel_cap": "€150 a night",
    "flight_hours": 6,
    # benefits
    "pension_match": "6%",
    "pension_min": "3%",
    "health_start": "first month",
    # working time
    "weekly_hours": 39,
    "core_hours": "10am to 4pm",
    "flex_window": "7:30am to 7pm",
    "office_days": 2,
    "home_allowance": "€300",
    "equipment_days": "5 working days",
    # joining
    "start_time": "9:30am",
    "induction_weeks": 2,
    "probation_months": 6,
    "probation_notice": "1 week",
    "probation_check": "3 months",
    # career
    "midyear": "June",
    "annual_review": "December",
    "pay_review": "1 March",
    "training_budget": "€1,000",
    "exam_days": 3,
    # conduct
    "gift_limit": "€50",
    "grievance_ack": "5 working days",
    "grievance_meeting": "10 working days",
    # leaving
    "notice_staff": "1 month",
    "notice_managers": "3 months",
    "reference_days": "5 working days",
}

SITES = ["Galway", "Dublin", "Cork"]
PLACES = ["Belfast", "Limerick", "Rotterdam", "Manchester", "Antwerp", "Waterford"]

SYSTEM = (
    "You are Orla, the HR assistant for employees of Brightwater Logistics in Ireland. You answer questions about "
    "Brightwater's HR policies: leave and holidays, sickness, family leave, pay and payslips, expenses and travel, "
    "benefits and pension, working hours and remote work, equipment, joining, reviews and training, conduct and "
    "grievances, and leaving. Be warm, plain and brief. Only state Brightwater policy you know; if you don't know, "
    "say so and point to who can help."
)

# --------------------------------------------------------------------------------------------------------------
# 2. Intents. `train` phrasings go to employees.jsonl, `test` phrasings only to test.jsonl (never both). Each
#    intent has two answer templates carrying the same facts. {site} and {place} in a phrasing are filled from
#    the pools above; answers use FACTS only.
# --------------------------------------------------------------------------------------------------------------
INTENTS: dict[str, dict] = {
    "leave_allowance": {
        "topic": "leave",
        "train": [
            "How many days annual leave do I get?",
            "whats the holiday allowance here",
            "Do I get more holidays the longer I stay at Brightwater?",
            "I started in September, how much leave do I have this year?",
            "annual leave entitlement?",
            "I've been here nearly five years, does my leave go up?",
            "How many holiday days does a full-time employee get a year?",
            "is it 20 or 23 days leave, my contract is confusing me",
        ],
        "test": [
            "Coming up on my fifth work anniversary - what's my yearly days-off figure going to be after that?",
            "New starter here: roughly how much paid time off am I owed over twelve months?",
        ],
        "answers": [
            "Full-time employees get {leave_days} days of annual leave a year, on top of public holidays, rising to "
            "{leave_long} days after {leave_long_years} years' service. If you join or leave part-way through the "
            "year, your allowance is worked out pro rata.",
            "You get {leave_days} days' annual leave a year plus public holidays, and {leave_long} days once you've "
            "completed {leave_long_years} years' service. Part-years are pro rata, so a mid-year start means a "
            "smaller allowance for that first year.",
        ],
    },
    "book_leave": {
        "topic": "leave",
        "train": [
            "How do I book a holiday?",
            "where do i request time off",
            "How much notice do I need to give for annual leave?",
            "I want to take two weeks off in August, what's the process?",
            "Who approves my leave requests?",
            "booked leave a while ago and still no approval, how long does it take",
            "Can I request a day off tomorrow?",
            "Is there a form for annual leave or is it all online now?",
        ],
        "test": [
            "Planning a fortnight away this summer - where do I put the request in and how far ahead should I ask?",
            "My manager hasn't said yes or no to my days off yet, what's the usual turnaround?",
        ],
        "answers": [
            "Request leave in People Hub under Time off, ideally at least {leave_notice} ahead for anything longer "
            "than a couple of days. Your manager approves it, usually within {approve_days}.",
            "Book annual leave in People Hub > Time off; for more than a couple of days, please give at least "
            "{leave_notice}' notice. Your manager will approve it, normally within {approve_days}.",
        ],
    },
    "carry_over": {
        "topic": "leave",
        "train": [
            "Can I carry over unused holidays into next year?",
            "what happens to leave i dont use",
            "I still have 8 days left and it's December, will I lose them?",
            "How many days can I roll over?",
            "When do carried-over days have to be used by?",
            "carry over leave",
            "Can I get paid for holidays I didn't take instead of carrying them over?",
            "Is there a deadline for using last year's leftover leave?",
        ],
        "test": [
            "Won't get through all my days off before the new year, how many come with me and until when?",
            "leftover annual leave from last year, do I need to use it up by a certain date",
        ],
        "answers": [
            "You can carry up to {carry_days} unused days into the next leave year, and they must be taken by "
            "{carry_by}. Any days above that are lost, so please plan them with your manager before the year ends.",
            "Up to {carry_days} days of unused leave can be carried into the next year, as long as you use them by "
            "{carry_by}. Anything beyond {carry_days} days is lost, so it's worth booking them with your manager "
            "in good time.",
        ],
    },
    "public_holidays": {
        "topic": "leave",
        "train": [
            "Do we get bank holidays off?",
            "how many public holidays are there",
            "Is Christmas Eve a day off at Brightwater?",
            "I work Mondays only, what happens when a bank holiday falls on a Monday?",
            "Are public holidays taken out of my annual leave?",
            "do depot staff get public holidays too",
            "What if I have to work on a public holiday?",
            "Is St Brigid's Day a holiday for us?",
        ],
        "test": [
            "Which days is the company closed around the festive season, and does that eat into my own leave?",
            "Rostered on for the Easter Monday shift, do I get anything back for that?",
        ],
        "answers": [
            "Everyone gets Ireland's {public_holidays} public holidays on top of annual leave, and Brightwater also "
            "gives Christmas Eve off. If you have to work a public holiday, you get a paid day off in lieu to take "
            "within {lieu_within}.",
            "You get all {public_holidays} Irish public holidays in addition to your annual leave, plus Christmas "
            "Eve as a company day off. Working on a public holiday earns you a paid day in lieu, to be taken "
            "within {lieu_within}.",
        ],
    },
    "report_sick": {
        "topic": "sickness",
        "train": [
            "I'm sick today, who do I tell?",
            "how do i call in sick",
            "Do I need a doctor's note if I'm off for one day?",
            "I've got the flu and won't be in for a few days, what do I do?",
            "When do I need a medical certificate?",
            "can i just email my manager that im sick",
            "What time do I have to let someone know if I'm not coming in ill?",
            "I was off sick Monday and Tuesday, do I have to fill anything in?",
        ],
        "test": [
            "Woke up with a temperature, who should I contact before my shift and by what time?",
            "Been out unwell since Wednesday, at what point do I need paperwork from my GP?",
        ],
        "answers": [
            "Please phone your manager by {sick_call_by} on your first day off sick, and log the absence in People "
            "Hub. You can self-certify for up to {self_cert_days} days; from day {self_cert_days_plus} we need a "
            "medical certificate from your doctor.",
            "Call your manager before {sick_call_by} on the first day and record the absence in People Hub. Up to "
            "{self_cert_days} days can be self-certified, and from day {self_cert_days_plus} onwards please send a "
            "medical certificate.",
        ],
    },
    "sick_pay": {
        "topic": "sickness",
        "train": [
            "Do I get paid when I'm off sick?",
            "how much sick pay do we get",
            "I've been off for three weeks with my back, will my pay stop?",
            "Is sick pay full pay or reduced?",
            "what happens after company sick pay runs out",
            "How many sick days are paid per year?",
            "Do I need a cert to get sick pay?",
            "I was ill a lot last winter, does that count against my sick pay now?",
        ],
        "test": [
            "Off with a long illness since spring - how long does Brightwater keep paying my salary?",
            "Is there a limit on fully paid absence for illness over a twelve-month period?",
        ],
        "answers": [
            "Brightwater pays full pay for up to {sick_full_pay} of certified sickness in any rolling {sick_window}. "
            "After that, you may be able to claim Illness Benefit from the state, and HR can talk you through it "
            "on {hr_phone}.",
            "You get full pay for up to {sick_full_pay} of certified sick leave in any rolling {sick_window}. Once "
            "that's used, you may be able to claim the state's Illness Benefit; HR on {hr_phone} can help with "
            "the next steps.",
        ],
    },
    "maternity": {
        "topic": "family",
        "train": [
            "How much maternity leave do I get?",
            "does brightwater top up maternity pay",
            "I'm pregnant, when do I need to tell HR?",
            "Can you explain the maternity policy to me?",
            "Can I take extra unpaid leave after my maternity leave ends?",
            "We're adopting a child next year. Is adoption leave the same as maternity leave?",
            "how many weeks are on full pay during mat leave",
            "Who do I tell first that I'm expecting, and is there a form?",
        ],
        "test": [
            "Baby due in the autumn - how long can I be off, and how much of it does the company pay in full?",
            "Are adoptive parents treated the same as birth mothers for paid time off here?",
        ],
        "answers": [
            "You can take {mat_weeks} weeks of maternity or adoption leave, plus up to {mat_unpaid} more weeks "
            "unpaid, and Brightwater tops up your pay to full salary for the first {mat_topup} weeks. Please tell "
            "HR at least {family_notice} before you plan to start.",
            "Maternity and adoption leave is {mat_weeks} weeks, with the option of {mat_unpaid} further unpaid "
            "weeks, and Brightwater pays full salary for the first {mat_topup} weeks. Let HR know at least "
            "{family_notice} before your leave starts.",
        ],
    },
    "paternity": {
        "topic": "family",
        "train": [
            "What's the paternity leave entitlement for new dads?",
            "paternity leave - paid or unpaid?",
            "My partner is due in March, can I take time off when the baby arrives?",
            "Do dads get full pay on paternity leave?",
            "what's the process for booking paternity leave",
            "Can I split my paternity leave into two blocks?",
            "When do I have to take paternity leave by?",
            "my wife's due soon, how much notice for paternity leave do i give HR",
        ],
        "test": [
            "Becoming a father in a couple of months; what time off comes with that and is my salary kept?",
            "Second parent here (not the birth mother) - how many weeks am I allowed and how early do I ask?",
        ],
        "answers": [
            "You can take {pat_weeks} weeks of paternity leave on full pay, in one block within the first {pat_within} "
            "after the birth or adoption. Please tell HR at least {family_notice} before you want to start it.",
            "Paternity leave is {pat_weeks} weeks at full pay, taken in one go within {pat_within} of the birth or "
            "adoption. Let HR know at least {family_notice} before your planned start date.",
        ],
    },
    "compassionate_leave": {
        "topic": "leave",
        "train": [
            "My grandmother passed away, can I get time off?",
            "bereavement leave?",
            "What's the compassionate leave allowance?",
            "My dad died last night. I'm sorry, I don't know who to tell at work.",
            "Is bereavement leave paid?",
            "what counts as close family for compassionate leave",
            "I need time off for a funeral on Friday.",
            "My partner's mother has died, am I allowed leave for that?",
        ],
        "test": [
            "We lost my brother at the weekend and I can't face work this week - what am I entitled to?",
            "Someone in my immediate family has died; is there paid time away for that?",
        ],
        "answers": [
            "I'm very sorry for your loss. You can take up to {compassionate_days} days' paid compassionate leave "
            "for the death of a close family member; just let your manager know, and HR can help on {hr_phone}.",
            "I'm so sorry for your loss. Brightwater gives up to {compassionate_days} days of paid compassionate "
            "leave when a close family member dies: tell your manager when you can, and HR is on {hr_phone} if "
            "you need support.",
        ],
    },
    "payday": {
        "topic": "pay",
        "train": [
            "When do we get paid?",
            "whats payday",
            "If the 25th is a Sunday, when does my salary go in?",
            "Are we paid weekly or monthly?",
            "I'm new, when will my first salary arrive?",
            "Salary hasn't landed yet, is it today?",
            "What date is pay day this month?",
            "is salary paid on the same date every month",
        ],
        "test": [
            "Which day of the month does my wage hit the bank, and what if that's on a weekend?",
            "How often does Brightwater run payroll - once a month?",
        ],
        "answers": [
            "Everyone is paid monthly on the {payday}. If the {payday} falls on a weekend or public holiday, you're "
            "paid on the working day before.",
            "Pay goes into your account monthly on the {payday}, or on the last working day before it if the "
            "{payday} is a weekend or public holiday.",
        ],
    },
    "payslips": {
        "topic": "pay",
        "train": [
            "Where can I see my payslip?",
            "i need my payslip from last month, where is it",
            "I think my payslip is wrong, who do I contact?",
            "Can I download old payslips?",
            "My overtime is missing from this month's pay.",
            "when do payslips come out",
            "Is there a paper payslip or only online?",
            "theres a deduction on my payslip i dont understand",
        ],
        "test": [
            "Need copies of the last three months' pay statements for a loan application - where do I find them?",
            "Looks like I've been underpaid this month, who sorts that out?",
        ],
        "answers": [
            "Your payslips are in People Hub under Pay, ready {payslip_days} before payday, and you can download "
            "past ones there too. If something looks wrong, email {payroll_email}.",
            "You'll find payslips in People Hub > Pay, published {payslip_days} before payday, along with your "
            "older ones to download. For any error or question, please email {payroll_email}.",
        ],
    },
    "update_details": {
        "topic": "pay",
        "train": [
            "How do I change my bank details for my salary?",
            "i've moved house, how do i update my address",
            "I got married and changed my surname, what do I need to do?",
            "Where do I update my emergency contact?",
            "new bank account, will this month's pay go to the right place",
            "Can HR change my phone number for me?",
            "update my personal details",
            "What's the cut-off for changing bank details before payday?",
        ],
        "test": [
            "Switched banks last week - by what date must I tell you so my wages go to the new account?",
            "My next of kin has changed, where do I record the new person?",
        ],
        "answers": [
            "You can update your address, phone, emergency contact and bank details yourself in People Hub under "
            "My profile. Bank changes made by the {pay_cutoff} of the month apply to that month's pay.",
            "Go to People Hub > My profile to change your address, phone number, emergency contact or bank "
            "details. Make bank changes by the {pay_cutoff} of the month and they'll apply from that payday.",
        ],
    },
    "expenses": {
        "topic": "expenses",
        "train": [
            "How do I claim expenses?",
            "do i need receipts for expenses",
            "I paid for a client lunch myself, how do I get the money back?",
            "How long do I have to submit an expense claim?",
            "When will I be reimbursed for my expenses?",
            "expenses claim",
            "I took a taxi to the airport for work, how do I get that back?",
            "Who signs off on my expense claims?",
        ],
        "test": [
            "Put a work purchase on my own card a month ago, is it too late to get that back, and when would it be "
            "repaid?",
            "what's the process for getting refunded for money I spent on the company's behalf",
        ],
        "answers": [
            "Submit expenses in People Hub under Expenses with a photo of each receipt, within {expense_days} days of "
            "spending. Once your manager approves, claims in by the {pay_cutoff} are repaid with that month's salary.",
            "Claim in People Hub > Expenses, attaching your receipts, within {expense_days} days. After your "
            "manager approves it, a claim made by the {pay_cutoff} of the month is paid with that month's salary.",
        ],
    },
    "mileage": {
        "topic": "expenses",
        "train": [
            "Can I claim mileage for using my own car?",
            "whats the mileage rate",
            "I drove to the {site} depot for a meeting, can I claim for that?",
            "Do I get mileage for my commute?",
            "How do I claim for driving to a customer site?",
            "mileage allowance per km?",
            "can I claim mileage to the airport for a work trip",
            "I use my car for work trips a lot, how is that paid back?",
        ],
        "test": [
            "Took my own vehicle to see a supplier yesterday, how much per kilometre can I put through?",
            "Is my daily drive into the office something I can be reimbursed for?",
        ],
        "answers": [
            "Business journeys in your own car are paid at {mileage}, claimed in People Hub > Expenses within "
            "{expense_days} days. Your normal commute to your usual workplace can't be claimed.",
            "We pay {mileage} for business trips in your own car; claim them in People Hub > Expenses within "
            "{expense_days} days. Travel between home and your usual workplace doesn't count as business mileage.",
        ],
    },
    "travel": {
        "topic": "travel",
        "train": [
            "How do I arrange a business trip?",
            "can i fly business class",
            "I need to go to {place} for two days, who books the hotel?",
            "What's the hotel limit when travelling for work?",
            "Do I need approval before booking business travel?",
            "meal allowance when travelling?",
            "Can I book flights myself and claim them back?",
            "what's the travel policy",
        ],
        "test": [
            "Off to a conference in {place} next month; what's the nightly cap for accommodation and what can I spend "
            "on food?",
            "Who arranges flights and hotels for company trips, and does my boss have to OK it first?",
        ],
        "answers": [
            "Get your manager's approval first, then email {travel_email} and the travel desk books flights and "
            "hotels. Flights are economy for trips under {flight_hours} hours, hotels up to {hotel_cap}, and meals "
            "up to {meal_cap}.",
            "Once your manager has approved the trip, the travel desk at {travel_email} books it for you. We fly "
            "economy on journeys under {flight_hours} hours, hotels can cost up to {hotel_cap}, and meals up to "
            "{meal_cap}.",
        ],
    },
    "pension": {
        "topic": "benefits",
        "train": [
            "Does Brightwater have a pension scheme?",
            "how much does the company put into my pension",
            "Can I increase my pension contributions?",
            "What's the employer pension match?",
            "Am I automatically enrolled in the pension?",
            "if i pay 3% does the company match it",
            "How do I change my pension contribution rate?",
            "What's the minimum I have to pay into the pension?",
        ],
        "test": [
            "How much retirement saving does my employer chip in, and what do I have to put in myself?",
            "Want to save more towards retirement through work, where do I change the percentage?",
        ],
        "answers": [
            "You join the Brightwater pension plan when you start, paying at least {pension_min} of salary, and "
            "we match what you pay up to {pension_match}. You can change your rate any time in People Hub under "
            "Pension.",
            "Everyone is enrolled in the Brightwater pension plan from their first day with a minimum of "
            "{pension_min}, and Brightwater matches your contributions up to {pension_match} of salary. Change "
            "your rate in People Hub > Pension.",
        ],
    },
    "health_insurance": {
        "topic": "benefits",
        "train": [
            "Do we get health insurance?",
            "is private health cover a benefit here",
            "Can I add my kids to the company health insurance?",
            "When does health insurance start for new employees?",
            "Do I have to pay anything for my own health cover?",
            "does the company pay for my partner's health insurance",
            "What benefits do I get apart from salary?",
            "health insurance for family members cost?",
        ],
        "test": [
            "Is medical cover part of the package, and could my husband be included?",
            "Just joined - when does my private healthcare kick in?",
        ],
        "answers": [
            "Brightwater pays for private health insurance for you from the end of your {health_start}. You can add "
            "your partner or children at a reduced rate paid through payroll; details are in People Hub under "
            "Benefits.",
            "Your private health insurance is paid by Brightwater and starts after your {health_start}. Partners and "
            "children can be added at a reduced rate deducted from pay; see People Hub > Benefits for the details.",
        ],
    },
    "eap": {
        "topic": "wellbeing",
        "train": [
            "Is there any counselling available through work?",
            "i'm really stressed, is there someone i can talk to",
            "What's the employee assistance programme?",
            "Is the EAP confidential? Will my manager find out?",
            "number for the employee helpline",
            "I'm struggling since my divorce and it's affecting work.",
            "Can family members use the employee assistance programme?",
            "Do we have any mental health support?",
        ],
        "test": [
            "Things have been rough lately and I'd like to speak to a professional privately - does the company offer "
            "anything?",
            "Is there a free, anonymous support line staff can ring at night?",
        ],
        "answers": [
            "Our Employee Assistance Programme offers free, confidential counselling and advice 24 hours a day on "
            "{eap_phone}, for you and your immediate family. Your manager and HR are never told who calls.",
            "You can call our Employee Assistance Programme on {eap_phone}, 24 hours a day, for free and "
            "confidential counselling, and your immediate family can use it too. Nobody at Brightwater is told "
            "that you called.",
        ],
    },
    "working_hours": {
        "topic": "working_time",
        "train": [
            "What are the normal working hours?",
            "how many hours a week is full time",
            "Can I start early and finish early?",
            "What are core hours?",
            "Do we have flexitime?",
            "can i work 8 till 4",
            "Do I have to be online at 10am every day?",
            "I'd like to leave at 3 on Fridays for school pick-up, is that allowed?",
        ],
        "test": [
            "What's the standard weekly contract for a full-timer, and between which times must I be available?",
            "Could I do my day from half seven in the morning and be done mid-afternoon?",
        ],
        "answers": [
            "Full time is {weekly_hours} hours a week. With flexitime you can work any time between {flex_window}, "
            "as long as you're available during core hours of {core_hours} and agree your pattern with your "
            "manager.",
            "A full-time week is {weekly_hours} hours. You can flex your day anywhere between {flex_window}, "
            "provided you're available in core hours, {core_hours}, and your manager agrees the pattern.",
        ],
    },
    "remote_work": {
        "topic": "working_time",
        "train": [
            "Can I work from home?",
            "how many days do we have to be in the office",
            "Is hybrid working allowed at Brightwater?",
            "I'd like to work from home full time, is that possible?",
            "Do depot staff get to work remotely?",
            "wfh policy?",
            "Can I work from abroad for a couple of weeks?",
            "Which days do I need to come in?",
        ],
        "test": [
            "I'm office-based; what's the minimum number of days a week I must show up in person?",
            "Would it be OK to do my job from my home in Kerry most of the week?",
        ],
        "answers": [
            "Office-based staff can work from home in a hybrid pattern, coming in at least {office_days} days a week "
            "on days agreed with their manager. Roles at the depots need to be on site, and working from abroad "
            "needs HR approval first.",
            "If your role is office-based, you can work hybrid: at least {office_days} days a week in the office, "
            "on days your manager agrees. Depot roles are on site, and any remote work from outside Ireland must "
            "be approved by HR first.",
        ],
    },
    "equipment": {
        "topic": "equipment",
        "train": [
            "Can I get a second monitor for home?",
            "is there a home office allowance",
            "I need an ergonomic chair because of my back, who do I ask?",
            "How do I order equipment for working from home?",
            "my headset broke, can i get a new one",
            "What equipment do I get when I start?",
            "Can I claim for a desk I bought for my home office?",
            "how long does new equipment take to arrive",
        ],
        "test": [
            "Setting up a workspace at home - is there any money towards furniture, and how do I get a proper "
            "keyboard and screen?",
            "Requested a standing desk last week, how soon should it turn up?",
        ],
        "answers": [
            "You get a laptop on your first day, and you can order extra items like a monitor, headset or chair in "
            "People Hub under Equipment; they arrive within {equipment_days}. Hybrid workers can also claim a "
            "one-off {home_allowance} home office allowance.",
            "Everyone gets a laptop on day one, and extra kit such as monitors, headsets or chairs can be ordered "
            "in People Hub > Equipment, delivered within {equipment_days}. Hybrid staff can claim a one-off "
            "{home_allowance} towards their home office.",
        ],
    },
    "onboarding": {
        "topic": "joining",
        "train": [
            "What happens on my first day?",
            "what time do i start on day one",
            "I'm starting next Monday at the {site} office. Where do I go?",
            "Will I have an induction?",
            "Do new starters get a buddy?",
            "What documents should I bring with me when I start?",
            "how long is the induction programme",
            "first day nerves! what should I expect",
        ],
        "test": [
            "Joining the team in a fortnight - what time should I arrive that morning, and is there someone to show "
            "me the ropes?",
            "How long does the new-joiner training programme run?",
        ],
        "answers": [
            "Welcome! On your first day, please come to reception at {start_time} with photo ID and your bank "
            "details. Your induction runs over your first {induction_weeks} weeks, and you'll have a buddy to "
            "help you settle in.",
            "Welcome to Brightwater! Please arrive at reception at {start_time} on day one with photo ID and your "
            "bank details; your induction takes {induction_weeks} weeks, and a buddy will show you around.",
        ],
    },
    "probation": {
        "topic": "joining",
        "train": [
            "How long is the probation period?",
            "what happens at the end of probation",
            "Can my probation be extended?",
            "What's the notice period while I'm on probation?",
            "Will I have a review during my probation?",
            "probation length?",
            "I'm 3 months in, do I get a probation meeting?",
            "Does my notice period change once I pass probation?",
        ],
        "test": [
            "Only started in January - how long until I'm confirmed in my role, and how much notice if I left before "
            "then?",
            "Are there check-ins during the trial period or just one at the end?",
        ],
        "answers": [
            "Probation lasts {probation_months} months, with review meetings with your manager at {probation_check} "
            "and at "
            "the end. During probation the notice period on either side is {probation_notice}.",
            "Your probation is {probation_months} months long, and you'll have a review with your manager at "
            "{probation_check} and again at the end. Until it's complete, either side can end employment with "
            "{probation_notice}'s notice.",
        ],
    },
    "performance_review": {
        "topic": "career",
        "train": [
            "When are performance reviews?",
            "how does the appraisal process work",
            "Is there a mid-year review?",
            "When do pay rises come through after the review?",
            "I disagree with my performance rating, what can I do?",
            "how do i prepare for my annual review",
            "Where do I write my self-assessment for the review?",
            "how often do we get appraisals",
        ],
        "test": [
            "Which months do the check-in and the year-end appraisal happen, and when does any salary change take "
            "effect?",
            "Not happy with the score my manager gave me in my review - is there a way to challenge it?",
        ],
        "answers": [
            "Reviews happen twice a year: a mid-year check-in in {midyear} and your annual review in "
            "{annual_review}, both recorded in People Hub. Any pay changes from the review take effect on "
            "{pay_review}, and if you disagree with your rating you can ask HR for a second review.",
            "There's a mid-year check-in in {midyear} and an annual review in {annual_review}, both written up in "
            "People Hub. Pay changes that follow take effect on {pay_review}, and you can ask HR for a second "
            "review if you disagree with your rating.",
        ],
    },
    "training_budget": {
        "topic": "career",
        "train": [
            "Is there a training budget?",
            "will brightwater pay for a course",
            "I want to do a part-time diploma, will the company help?",
            "How much can I spend on training each year?",
            "Do I get study leave for exams?",
            "how do i apply for training",
            "Can I use my training budget for a conference?",
            "professional certification costs, who pays",
        ],
        "test": [
            "Is there money set aside for my professional development, and could I get days off to sit exams?",
            "Where do I put in a request to fund an evening course?",
        ],
        "answers": [
            "Each employee has a training budget of {training_budget} a year for courses, qualifications and "
            "conferences, agreed with your manager and requested in People Hub under Learning. You also get up to "
            "{exam_days} days' paid study leave for exams.",
            "You have {training_budget} a year to spend on training, courses or conferences, with your manager's "
            "agreement; request it in People Hub > Learning. Up to {exam_days} days of paid exam leave is also "
            "available.",
        ],
    },
    "code_of_conduct": {
        "topic": "conduct",
        "train": [
            "Where can I find the code of conduct?",
            "can i accept a gift from a supplier",
            "A customer gave me a bottle of wine at Christmas, is that OK?",
            "What's the policy on conflicts of interest?",
            "Am I allowed a second job?",
            "staff handbook link?",
            "Do I need to declare hospitality from a supplier?",
            "Where do I declare a gift?",
        ],
        "test": [
            "One of our hauliers wants to take me to a match and dinner, what are the rules on that?",
            "Where are the company's ethics and behaviour rules written down?",
        ],
        "answers": [
            "The code of conduct and staff handbook are in People Hub under Policies. Gifts or hospitality worth "
            "more than {gift_limit} must be declared there before you accept, and any possible conflict of "
            "interest, such as a second job, should be raised with your manager.",
            "You'll find the code of conduct and the staff handbook in People Hub > Policies. Please declare any "
            "gift or hospitality over {gift_limit} there before accepting, and talk to your manager about any "
            "potential conflict of interest, like a second job.",
        ],
    },
    "grievance": {
        "topic": "conduct",
        "train": [
            "How do I raise a grievance?",
            "i want to make a complaint about my manager",
            "I'm being bullied by a colleague, what should I do?",
            "Is there a way to report something confidentially?",
            "What happens after I submit a formal grievance?",
            "harassment at work, who do i tell",
            "Can I raise a complaint about how I've been treated without my manager knowing?",
            "Is there a whistleblowing line?",
        ],
        "test": [
            "A senior colleague keeps making comments that make me uncomfortable, what are my options for reporting "
            "it?",
            "How quickly will HR respond once I put a formal complaint in writing?",
        ],
        "answers": [
            "You can raise a concern informally with your manager, or formally in writing to {hr_email}; HR "
            "acknowledges within {grievance_ack} and arranges a meeting within {grievance_meeting}. To report "
            "something confidentially, call the Speak Up line on {speakup_phone}.",
            "Speak to your manager informally, or send a formal grievance in writing to {hr_email}: HR will "
            "acknowledge it within {grievance_ack} and meet you within {grievance_meeting}. For confidential "
            "reports, the Speak Up line is {speakup_phone}.",
        ],
    },
    "resignation": {
        "topic": "leaving",
        "train": [
            "How do I resign?",
            "whats my notice period",
            "I've been offered another job. How much notice do I need to give?",
            "Do managers have a longer notice period?",
            "Will I get paid for holidays I haven't taken when I leave?",
            "can i hand my notice in by email",
            "Who do I send my resignation letter to?",
            "I want to leave, who do I tell first?",
        ],
        "test": [
            "Accepted an offer elsewhere - how long do I have to stay on after telling you, and what about leftover "
            "days off?",
            "Team leads and managers: is the period for quitting different to everyone else's?",
        ],
        "answers": [
            "Please resign in writing to your manager, copying {hr_email}. The notice period is {notice_staff}, "
            "or {notice_managers} for managers, and any unused annual leave is paid in your final salary.",
            "To resign, write to your manager and copy {hr_email}. Most employees give {notice_staff}'s notice and "
            "managers give {notice_managers}; unused annual leave is paid with your last salary.",
        ],
    },
    "references": {
        "topic": "leaving",
        "train": [
            "Can I get a reference from Brightwater?",
            "how do i request a reference",
            "A new employer wants a reference, who do they contact?",
            "Can my manager write me a personal reference?",
            "how long does a reference take",
            "What does a Brightwater reference say?",
            "I left last year, can I still get a reference?",
            "my mortgage lender needs confirmation of my employment",
        ],
        "test": [
            "The company I'm moving to needs someone here to confirm my job history, where should they send the "
            "request?",
            "Can my old team leader vouch for me on the company's behalf?",
        ],
        "answers": [
            "HR provides all references, confirming your job title and dates of employment, within "
            "{reference_days} of a request to {hr_email}. Managers can't give references on Brightwater's behalf.",
            "Please ask the new employer or lender to email {hr_email}: HR confirms your job title and dates of "
            "employment within {reference_days}. References on Brightwater's behalf only come from HR, not from "
            "managers.",
        ],
    },
    "contact_hr": {
        "topic": "contact",
        "train": [
            "How do I contact HR?",
            "hr phone number",
            "What are HR's opening hours?",
            "I'd like to speak to someone in HR in person.",
            "is there an hr email",
            "Who do I ask if you can't answer my question?",
            "Where's People Hub?",
            "can i call hr on a saturday",
        ],
        "test": [
            "Need to talk to an actual person in the people team - what's the best way and when are they around?",
            "What's the web address for the employee self-service site?",
        ],
        "answers": [
            "You can reach HR on {hr_phone}, {hr_hours}, or by email at {hr_email}. Most things, like leave, pay "
            "and expenses, can also be done yourself in People Hub at {hub_url}.",
            "HR is on {hr_phone}, {hr_hours}, and at {hr_email}. People Hub, at {hub_url}, is where you can manage "
            "your leave, pay and expenses yourself.",
        ],
    },
}

# --------------------------------------------------------------------------------------------------------------
# 3. Out-of-scope questions, each with who can help. `kind` says why it is out of scope. The training ones are
#    what a real HR helpdesk log collects (a few near the domain, more far from it); the test ones are different
#    questions, deliberately near the domain.
# --------------------------------------------------------------------------------------------------------------
REFUSALS = [
    "I'm sorry, I can only help with Brightwater's HR policies, so I can't advise on that. For {who}.",
    "I'm afraid that's not something I can help with, as I only cover Brightwater's HR policies. For {who}.",
]
UNKNOWN = "I'm sorry, I don't have that information. I can only help with Brightwater's HR policies; for {who}."

TRAIN_OOS = [  # (question, kind, who can help)
    (
        "The printer on the second floor keeps jamming, can you fix it?",
        "it_support",
        "IT problems, please contact the IT Service Desk at servicedesk@brightwater.example",
    ),
    (
        "Can you check where customer order 48213 is?",
        "operations",
        "customer orders, please ask the operations team or the customer service desk",
    ),
    (
        "How do I appeal a parking fine I got in town?",
        "legal_advice",
        "legal questions, please speak to a solicitor or Citizens Information",
    ),
    (
        "Should I fix my mortgage rate for five years?",
        "financial_advice",
        "mortgage advice, please speak to your lender or a regulated financial adviser",
    ),
    (
        "Is it worth buying Tesla shares?",
        "investment_advice",
        "investment advice, please speak to a regulated financial adviser",
    ),
    (
        "I've had a sore throat for a week, do I need antibiotics?",
        "medical",
        "medical questions, please contact your GP or a pharmacist",
    ),
    (
        "My neighbour's hedge is blocking all my light, what can I do about it?",
        "legal_advice",
        "legal questions, please speak to a solicitor or Citizens Information",
    ),
    (
        "How many people work at Brightwater?",
        "unknown_fact",
        "questions about the company itself, please contact HR on 091 555 0120",
    ),
    (
        "Who's the manager at the Cork depot?",
        "unknown_fact",
        "questions about who works where, please contact HR on 091 555 0120",
    ),
    (
        "Can you book a table for our team dinner on Friday?",
        "other_service",
        "bookings like that, please contact the restaurant directly",
    ),
    ("How do I renew my passport?", "government", "passports, please see the Passport Service on gov.ie"),
    (
        "What time is the next bus from Galway to Dublin?",
        "general",
        "travel timetables, please check the bus operator's website",
    ),
    ("What's the weather going to be like tomorrow?", "general", "the weather, please check Met Éireann"),
    ("Can you give me a recipe for brown bread?", "general", "recipes, a cookery website is the best place to look"),
    ("Who won the hurling final?", "general", "sports results, please check a news website"),
    (
        "Write me a short poem for my colleague's leaving card.",
        "general",
        "creative writing, a general assistant is the best place to ask",
    ),
    (
        "Can you help me fix an error in my Excel formula?",
        "general",
        "spreadsheet help, please ask the IT Service Desk or search online",
    ),
    ("What's the capital of Australia?", "general", "general knowledge, please use a search engine"),
    (
        "Translate 'see you next week' into French for me.",
        "general",
        "translations, please use a translation tool",
    ),
    (
        "Which phone should I buy, an iPhone or a Samsung?",
        "general",
        "shopping advice, please check a review website",
    ),
]

TEST_OOS = [
    (
        "I've forgotten the password for my work laptop, can you reset it for me?",
        "it_support",
        "IT problems, please contact the IT Service Desk at servicedesk@brightwater.example",
    ),
    (
        "The VPN keeps disconnecting when I work from home, how do I fix it?",
        "it_support",
        "IT problems, please contact the IT Service Desk at servicedesk@brightwater.example",
    ),
    (
        "I've received a court summons about an unpaid credit card debt, how should I respond?",
        "legal_advice",
        "legal questions, please speak to a solicitor or Citizens Information",
    ),
    (
        "My landlord wants to put my rent up by 20%, is he allowed to do that?",
        "legal_advice",
        "tenancy questions, please contact the Residential Tenancies Board or Citizens Information",
    ),
    (
        "What dose of melatonin should I take to sleep after night shifts?",
        "medical",
        "medical questions, please contact your GP or a pharmacist",
    ),
    (
        "How do I claim the rent tax credit on my own tax return?",
        "tax_advice",
        "personal tax questions, please contact Revenue or a tax adviser",
    ),
    (
        "What is Amazon's parental leave policy in Ireland?",
        "other_employer",
        "another company's policies, please ask that company's HR team",
    ),
    (
        "Should I use my savings to pay off my car loan early or invest them?",
        "financial_advice",
        "personal financial advice, please speak to a regulated financial adviser",
    ),
    (
        "How much does Brightwater's CEO earn?",
        "unknown_fact",
        "questions about the company itself, please contact HR on 091 555 0120",
    ),
    (
        "What will next year's pay rise be?",
        "unknown_fact",
        "questions about future pay, please speak to your manager or HR on 091 555 0120",
    ),
    (
        "How much profit did Brightwater make last year?",
        "unknown_fact",
        "questions about the company's finances, please contact HR on 091 555 0120",
    ),
    (
        "How much Maternity Benefit does the state pay each week?",
        "government",
        "state benefits, please contact the Department of Social Protection or see gov.ie",
    ),
]

# --------------------------------------------------------------------------------------------------------------
# 4. User styles: plain, terse, chatty (greeting and sign-off), and an occasional typo.
# --------------------------------------------------------------------------------------------------------------
GREETINGS = ["Hi,", "Hello,", "Hi Orla,", "hey", "Morning,", "Hi there,", "Hello Orla,", "Quick one:"]
SIGNOFFS = ["Thanks!", "thanks", "Thanks a million.", "Cheers", "Thank you.", "ta", "Thanks in advance."]


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
    elif roll < 0.62:  # terse: lowercase, no final punctuation
        out = (text[0].lower() + text[1:]).rstrip("?.!")
    elif roll < 0.90:  # chatty
        out = f"{rng.choice(GREETINGS)} {text[0].lower() + text[1:] if rng.random() < 0.3 else text}"
        if rng.random() < 0.6:
            out = f"{out} {rng.choice(SIGNOFFS)}"
    else:
        out = text
    if rng.random() < 0.15:
        out = _typo(rng, out)
    return out


def fill(rng: Random, template: str) -> str:
    if "{site}" in template:
        template = template.replace("{site}", rng.choice(SITES))
    if "{place}" in template:
        template = template.replace("{place}", rng.choice(PLACES))
    return template


# --------------------------------------------------------------------------------------------------------------
# 5. Build, check, write.
# --------------------------------------------------------------------------------------------------------------
SLOTS = {**FACTS, "self_cert_days_plus": FACTS["self_cert_days"] + 1}


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
    return rng.choice(INTENTS[intent]["answers"]).format(**SLOTS)


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
    employees = [conv(u, a, f"bw-{i:04d}", t) for i, (u, a, t) in enumerate(train, 1)]

    test: list[tuple[str, str, list[str]]] = []
    for intent, spec in INTENTS.items():
        for phrase in spec["test"]:
            # reference answers are the first template: the test file does not depend on the shuffle
            ref = spec["answers"][0].format(**SLOTS)
            test.append((fill(rng, phrase), ref, [spec["topic"], intent]))
    for q, kind, who in TEST_OOS:
        test.append((q, refusal(Random(q), kind, who), ["refusal", "out_of_scope", kind]))
    tests = [conv(u, a, f"bw-test-{i:03d}", t) for i, (u, a, t) in enumerate(test, 1)]
    return employees, tests


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9€']+", text.lower()))


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def self_check(employees: list[dict], tests: list[dict]) -> None:
    """No two user turns alike (word Jaccard < 0.6), answers 1-3 sentences, facts all used, no placeholders."""
    users = [(r["meta"]["id"], r["messages"][1]["content"]) for r in employees + tests]
    sets = [(cid, _words(u)) for cid, u in users]
    bad = []
    for i in range(len(sets)):
        for j in range(i + 1, len(sets)):
            s = _jaccard(sets[i][1], sets[j][1])
            if s >= 0.6:
                bad.append((sets[i][0], sets[j][0], round(s, 2)))
    if bad:
        raise SystemExit(f"near-duplicate user turns: {bad}")
    for r in employees + tests:
        text = r["messages"][2]["content"]
        if "{" in text or "}" in text:
            raise SystemExit(f"unfilled slot in {r['meta']['id']}: {text}")
        n = len(re.findall(r"[.!?](?:\s|$)", text))
        if not 1 <= n <= 3:
            raise SystemExit(f"{r['meta']['id']}: {n} sentences: {text}")
    used = " ".join(r["messages"][2]["content"] for r in employees)
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
    employees, tests = build(args.seed)
    self_check(employees, tests)
    write_atomic(args.out_dir / "employees.jsonl", employees)
    write_atomic(args.out_dir / "test.jsonl", tests)
    n_ref = sum("refusal" in r["meta"]["tags"] for r in employees)
    t_ref = sum("refusal" in r["meta"]["tags"] for r in tests)
    print(
        f"employees.jsonl: {len(employees)} conversations, {n_ref} refusals ({n_ref / len(employees):.1%}), "
        f"{len(INTENTS)} intents; test.jsonl: {len(tests) - t_ref} in scope, {t_ref} out of scope",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
