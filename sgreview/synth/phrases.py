"""Phrase banks for synthetic incident narratives.

Each planted theme has sentence variants in five slots (``open``: who/where, ``event``: what
happened, ``response``: what staff did, ``outcome``, ``follow``: follow-up). Variants differ in
structure, person (first/third) and reporting style, and use the abbreviations mental health
services write (pt, SU, obs, s17, MHA, CPN, CRHT, NOK, PRN, IM ...). Themes share a lot of
vocabulary on purpose, as real incidents do; what separates them is a handful of content words.

A ``tag|`` prefix marks a variant that belongs to one scenario of its theme (a ligature, a
cut, an overdose; absconding from the ward, from an escort, or failing to return from leave):
one scenario is chosen per incident and untagged variants fit every scenario, so a narrative
that starts with a ligature does not end with a wound being sutured.

Placeholders filled per incident: ``{Pt}``/``{pt}`` patient reference, ``{He} {he} {His} {his}
{him}`` pronouns, ``{staff}`` a staff reference, ``{rel}`` a relative, ``{ward}``, ``{time}``,
``{im}`` an IM medicine, ``{prn}`` an oral PRN, ``{n}`` a small number. Names, NHS numbers and
other identifiers only ever enter through these placeholders or the identifier sentences built
in :mod:`sgreview.synth.identifiers`, so clinical look-alikes below ("section 17", "Ward 3",
"Olanzapine 10mg IM") must survive redaction untouched.
"""

from __future__ import annotations

SLOTS = ("open", "event", "response", "outcome", "follow")

BANKS: dict[str, dict[str, list[str]]] = {
    "self_harm": {
        "open": [
            "{Pt} had been low in mood all day and was on level 2 obs.",
            "{Pt} was on intermittent obs (every 15 mins) following a recent increase in SH risk.",
            "During the night shift I went to check {pt} as {he} had not come out of {his} room.",
            "{Pt} reported thoughts of self harm to the NIC earlier in the shift.",
            "Known hx of self harm by cutting and tying ligatures.",
            "SU was seen by CRHT at home earlier today and expressed suicidal ideation.",
            "{Pt} became distressed after a phone call and went to {his} bedroom.",
        ],
        "event": [
            "lig|{Pt} was found in the bathroom with a ligature tied around {his} neck made from a strip of bedsheet.",
            "lig|On entering the room staff found {pt} had used a t-shirt as a ligature attached to the wardrobe door.",
            "cut|{Pt} had cut {his} left forearm with a broken piece of plastic, {n} superficial lacerations noted.",
            "od|{Pt} disclosed that {he} had taken an overdose of approx {n}0 paracetamol tablets at home.",
            "cut|{He} was found head banging against the wall of the quiet room.",
            "lig|{Pt} attempted to tie a ligature using a phone charger cable in the en-suite.",
            "cut|pt was observed scratching at old wounds until they bled and picking at sutures.",
            "lig|Found {pt} with a shoelace ligature, colour normal, responsive to voice.",
            "od|{Pt} swallowed a battery from the TV remote and then told staff.",
            "cut|SU reported self-harming by burning {his} arm with a lighter over the weekend.",
        ],
        "response": [
            "lig|Ligature cut with ligature cutters and removed immediately, emergency bell pulled.",
            "cut|{Staff} attended, first aid given and wounds cleaned and dressed with steristrips.",
            "lig|Physical obs taken, NEWS 1, no marks to the neck apart from redness.",
            "od|Duty doctor reviewed and {pt} was sent to A&E for bloods and a paracetamol level.",
            "Obs increased to level 3 (arms length) and room search completed.",
            "I stayed with {pt} and talked {him} through what had happened while {staff} called 999.",
            "CRHT contacted and a same-day home visit arranged.",
        ],
        "outcome": [
            "{Pt} remained on 1:1 obs for the rest of the shift.",
            "No further injury, {pt} settled later and accepted {prn}.",
            "od|{Pt} returned from ED at 03:00 medically fit, no treatment required.",
            "cut|Wound did not need suturing. Risk assessment updated.",
            "od|Admitted to the medical ward overnight for NAC infusion.",
        ],
        "follow": [
            "lig|Ligature audit of the room to be completed by estates.",
            "Care plan and safety plan reviewed with {pt} the following morning.",
            "lig|Discussed at safety huddle, ligature risk to be reviewed at MDT.",
            "cut|Sharps/belongings search policy reminded to all staff.",
        ],
    },
    "absconding": {
        "open": [
            "esc|{Pt} is detained under s3 MHA and had been granted escorted s17 leave in the grounds.",
            "leave|{Pt} was on unescorted section 17 leave for 1 hour to go to the shop.",
            "ward|Informal pt on {ward}, has been asking to go home repeatedly.",
            "leave|{Pt} was due back from s17 leave at 18:00.",
            "esc|{Pt} (s2 MHA) was walking with {staff} to the cafe in the main hospital.",
            "leave|SU on CTO and due to attend depot clinic this morning.",
        ],
        "event": [
            "leave|{Pt} failed to return from s17 leave and was not answering {his} phone.",
            "esc|{Pt} ran off from the escorting staff near the car park and could not be found.",
            "ward|{He} absconded by tailgating a visitor through the airlock doors.",
            "ward|{Pt} went AWOL from the ward garden by climbing over the fence.",
            "leave|pt did not return from leave and was later reported to be at a friend's address.",
            "ward|{Pt} left the ward without informing staff and was missing for {n} hours.",
            "ward|Staff noticed {pt} was missing at the hourly obs check.",
            "esc|pt absconded while on a hospital appointment, escort lost sight of {him} in the crowd.",
        ],
        "response": [
            "AWOL policy followed, police informed and a missing person report made.",
            "Local search of the grounds completed by staff, NOK informed.",
            "On call manager and RC informed, s17 leave suspended.",
            "Police were given a description and a Herbert Protocol form was shared.",
            "leave|{Staff} phoned {pt} repeatedly and left messages asking {him} to come back.",
            "Risk of absconding discussed with the bleep holder and police called.",
        ],
        "outcome": [
            "{Pt} returned to the ward voluntarily at 22:30, appeared intoxicated.",
            "Police returned {pt} to the ward under s18 MHA later that evening.",
            "{Pt} was found safe and well by police and conveyed back.",
            "{Pt} came back of {his} own accord, unharmed, and was searched on return.",
        ],
        "follow": [
            "Leave to be reviewed at ward round. AWOL risk assessment updated.",
            "ward|Estates asked to review the garden fence height.",
            "ward|Reminder to staff about airlock procedures.",
            "Leave conditions clarified with {pt} and documented.",
        ],
    },
    "violence_to_staff": {
        "open": [
            "{Pt} had been agitated and pacing the corridor since the morning handover.",
            "{Pt} was asked to return to {his} room after shouting at other pts.",
            "While administering medication {pt} became verbally aggressive.",
            "{Pt} was refused access to the office and became hostile.",
            "{Pt} has a hx of aggression when unwell and was on level 2 obs.",
        ],
        "event": [
            "{Pt} punched {staff} in the face, causing a cut lip.",
            "{Pt} threw a chair at {staff}, which hit them on the shoulder.",
            "pt spat at staff and kicked out at a nurse while being redirected.",
            "{Pt} grabbed {staff} by the hair and would not let go.",
            "{Pt} assaulted a HCA, striking them several times on the back.",
            "Staff member was bitten on the forearm by {pt} during a struggle.",
            "{Pt} lunged at {staff} with a clenched fist and made threats to kill staff.",
            "{Pt} headbutted a member of staff who was trying to de-escalate.",
        ],
        "response": [
            "De-escalation attempted, alarm raised and the response team attended.",
            "Injured staff member was checked by the duty doctor and sent to OH.",
            "Police informed and a crime reference number was obtained.",
            "{Staff} was removed from the area and offered a debrief.",
            "Other pts were moved to the lounge for their safety.",
        ],
        "outcome": [
            "Staff member sustained bruising, went off duty.",
            "No serious injury to staff. {Pt} apologised later.",
            "Staff member attended A&E for an X-ray, no fracture.",
            "{Pt} calmed after time in {his} room.",
        ],
        "follow": [
            "Violence reduction plan reviewed at MDT.",
            "Staff support offered via TRiM and line manager.",
            "Police to consider charges, staff member to give statement.",
            "PMVA refresher booked for the team.",
        ],
    },
    "patient_assault": {
        "open": [
            "Two pts had been arguing in the dining room over the TV remote.",
            "{Pt} had been teasing another pt throughout the afternoon.",
            "There was tension on the ward between {pt} and a newly admitted pt.",
            "{Pt} had complained that another pt was going into {his} room.",
            "During the evening meal an argument started at the table.",
        ],
        "event": [
            "{Pt} punched another pt in the back of the head without warning.",
            "Another pt slapped {pt} across the face in the corridor.",
            "{Pt} pushed a fellow pt who fell and hit their head on the floor.",
            "pt was assaulted by a co-pt who kicked {him} in the leg.",
            "A fight broke out between {pt} and another SU, both were throwing punches.",
            "{Pt} was found with a scratch on {his} face and said another pt had attacked {him}.",
            "{Pt} threw hot tea over another pt in the lounge.",
        ],
        "response": [
            "Staff intervened and separated the pts.",
            "Both pts were seen by the duty doctor and physical obs done.",
            "Victim was offered support and asked if they wanted to report it to police.",
            "Obs increased on both pts and they were kept apart.",
            "Safeguarding referral made for the pt who was assaulted.",
        ],
        "outcome": [
            "Minor graze to the victim's cheek, no further treatment.",
            "The assaulted pt was shaken but not injured.",
            "Victim had a swollen eye and was sent for a CT head as a precaution.",
            "Both pts settled after the incident.",
        ],
        "follow": [
            "Bed move considered for the pt who assaulted.",
            "Ward environment and zoning to be discussed at MDT.",
            "Family of the victim informed with consent.",
        ],
    },
    "restrictive_practice": {
        "open": [
            "{Pt} was highly aroused and attempting to break the ward door.",
            "{Pt} was refusing oral medication and becoming increasingly agitated.",
            "{Pt} was trying to climb onto the roof of the garden area.",
            "Attempts at verbal de-escalation by {staff} were unsuccessful.",
            "{Pt} had been offered {prn} twice and declined.",
        ],
        "event": [
            "{Pt} was restrained in the supine position by {n} staff for approx 5 mins.",
            "Prone restraint was used briefly (under 1 min) before {pt} was turned.",
            "Rapid tranquillisation given: {im}.",
            "{Pt} was secluded in the seclusion room following the restraint.",
            "Held in a seated restraint while IM medication was administered.",
            "Restraint was required to remove a ligature and {pt} was held on the floor.",
            "{Pt} was placed in long term segregation following the MDT review.",
            "Mechanical restraint (handcuffs) were used by police on arrival.",
        ],
        "response": [
            "Physical obs monitored every 15 mins post RT as per policy.",
            "Seclusion reviews completed by the nurse and medic within the required times.",
            "Debrief offered to {pt} afterwards.",
            "Restraint was led by the person at the head who monitored {his} airway.",
            "Doctor informed and attended to review after RT.",
        ],
        "outcome": [
            "{Pt} came out of seclusion after {n} hours and was calmer.",
            "{Pt} fell asleep after the IM and NEWS remained within range.",
            "Carpet burn to {his} knee noted after the restraint.",
            "No injuries to pt or staff during the restraint.",
        ],
        "follow": [
            "Reducing restrictive practice lead notified.",
            "Positive behaviour support plan to be updated.",
            "Use of prone restraint to be reviewed by the matron.",
            "Seclusion paperwork completed and copied to MHA office.",
        ],
    },
    "sexual_safety": {
        "open": [
            "Mixed sex ward, {pt} had been sexually disinhibited for several days.",
            "{Pt} reported to staff that another pt had been making comments about {his} body.",
            "At night staff were completing hourly obs on the female corridor.",
            "{Pt} approached the NIC saying {he} felt unsafe on the ward.",
            "{Pt} was found on the opposite-sex corridor, which {he} is not allowed on.",
        ],
        "event": [
            "{Pt} alleged that a male pt touched {him} inappropriately in the lounge.",
            "A male pt was found in {pt}'s bedroom at 02:00.",
            "{Pt} exposed {himself} in the corridor in front of other pts.",
            "{Pt} reported being sexually assaulted by another pt in the garden.",
            "pt made sexual comments and tried to kiss a female HCA.",
            "{Pt} was seen masturbating in the communal area.",
            "{Pt} disclosed that a staff member had made inappropriate sexual comments.",
        ],
        "response": [
            "Pts separated, the alleged perpetrator moved to level 3 obs.",
            "Sexual safety policy followed, police informed.",
            "{Pt} was offered a female member of staff to talk to.",
            "Safeguarding referral made and the ward manager informed.",
            "Staff member moved from the ward pending investigation.",
        ],
        "outcome": [
            "{Pt} was supported and stated {he} felt safer.",
            "Police attended and took a statement.",
            "Alleged perpetrator transferred to another ward.",
        ],
        "follow": [
            "Sexual safety lead to review. Care plan updated.",
            "Review of mixed sex accommodation arrangements requested.",
            "Sexual safety discussed in community meeting.",
        ],
    },
    "medication_error": {
        "open": [
            "During the 08:00 medication round the drug chart was checked.",
            "Pharmacy screening of the chart found a discrepancy.",
            "On the morning handover it was noted that the evening meds had not been signed for.",
            "{Pt} was admitted yesterday and {his} meds were reconciled on admission.",
            "Clozapine was due at 20:00.",
        ],
        "event": [
            "{Pt} was given another pt's medication in error.",
            "Lithium was omitted for {n} days because it had not been transcribed.",
            "{Pt} received a double dose of {prn} as the first dose was not signed.",
            "Clozapine was given despite {pt} missing {his} blood test.",
            "The wrong strength of Olanzapine (20mg instead of 10mg) was dispensed.",
            "pt was given meds at the wrong time and the controlled drug count was incorrect.",
            "Insulin was not given before breakfast as the chart was missing.",
            "Depot injection given 2 weeks late as it was not booked by the CMHT.",
        ],
        "response": [
            "Doctor informed and {pt} monitored for side effects.",
            "Pharmacy contacted for advice.",
            "{Pt} and NOK informed of the error under Duty of Candour.",
            "Physical obs taken hourly for 4 hours.",
            "The nurse involved completed a reflective statement.",
        ],
        "outcome": [
            "No adverse effects noted.",
            "{Pt} was drowsy but obs remained stable.",
            "Dose restarted after medical review.",
        ],
        "follow": [
            "Medication competency to be reassessed for the nurse involved.",
            "Reminder to all staff to check ID before administration.",
            "Discussed at medicines safety group.",
        ],
    },
    "self_neglect": {
        "open": [
            "CPN visited {pt} at home for a routine review.",
            "Home visit by the care coordinator following concerns from neighbours.",
            "SU has not engaged with the CMHT for 3 months.",
            "{Pt} lives alone and has a hx of not eating when unwell.",
            "Housing officer contacted the team with concerns.",
        ],
        "event": [
            "The property was cluttered with rubbish floor to ceiling and access to the kitchen was blocked.",
            "{Pt} appeared unkempt, had lost weight and there was no food in the house.",
            "There was a strong smell of urine and faeces in the flat and the heating was not working.",
            "{Pt} is hoarding newspapers and bags, a fire risk was identified.",
            "{Pt} has not been taking {his} insulin or attending GP appts.",
            "pt was found in bed, dehydrated and with pressure sores.",
            "{Pt} declined to let the CPN in and had not collected {his} medication for weeks.",
        ],
        "response": [
            "Referral made to the fire service for a safe and well visit.",
            "Adult social care informed and a self neglect referral made.",
            "Capacity assessment completed regarding {his} living conditions.",
            "GP contacted and asked to review physical health.",
            "Ambulance called and {pt} was taken to hospital.",
        ],
        "outcome": [
            "{Pt} has capacity and declined help at present.",
            "{Pt} agreed to daily visits from CRHT.",
            "{Pt} was admitted to the acute hospital.",
        ],
        "follow": [
            "Multi-agency meeting to be arranged under the self neglect protocol.",
            "Care plan to include weekly home visits.",
            "Environmental health contacted regarding the property.",
        ],
    },
    "domestic_abuse": {
        "open": [
            "During a 1:1 session with the CPN {pt} disclosed concerns about {his} partner.",
            "{Pt} attended clinic with bruising to {his} arms.",
            "{Pt} told staff on the ward that {he} did not want to go home on leave.",
            "During the assessment {pt} was tearful and said things at home were difficult.",
            "{Pt}'s partner answered the phone and would not let {pt} speak to staff.",
        ],
        "event": [
            "{Pt} disclosed that {his} partner had hit {him} and controls {his} money and phone.",
            "{Pt} reported that {his} partner threatened to kill {him} if {he} left.",
            "{Pt} described coercive and controlling behaviour by {his} ex-partner who is now stalking {him}.",
            "Pt's partner shouted at {pt} during a visit to the ward and grabbed {his} arm.",
            "{Pt} said {his} partner locks {him} in the house when {he} goes out.",
            "Disclosure of historical DV and recent strangulation by partner.",
        ],
        "response": [
            "DASH risk assessment completed and scored high risk.",
            "MARAC referral made and IDVA details given.",
            "Police informed with {pt}'s consent.",
            "{Pt} was given information about local DV services.",
            "Safeguarding adult referral made to the local authority.",
        ],
        "outcome": [
            "{Pt} declined to go to a refuge but agreed to a safety plan.",
            "{Pt} is staying with a friend for now.",
            "Visits by the partner to be supervised.",
        ],
        "follow": [
            "Case to be heard at MARAC next week.",
            "Safety plan to be reviewed at next CPA.",
            "Check for children in the household completed.",
        ],
    },
    "financial_abuse": {
        "open": [
            "{Pt}'s care coordinator noticed {he} had no money for food again this week.",
            "Ward staff were concerned about frequent visits from a family member asking for money.",
            "Appointee from the local authority raised concerns with the CMHT.",
            "{Pt} told the support worker that {his} bank card was missing.",
        ],
        "event": [
            "{Pt} disclosed that {rel} takes {his} benefits every month and leaves {him} with nothing.",
            "{Rel} was seen taking money from {pt}'s purse during a home visit.",
            "{Pt} has been pressured by {rel} to sign over {his} house.",
            "Large withdrawals from {pt}'s account were made by {rel} who has the bank card.",
            "{Pt} reported that {rel} uses {his} PIP to pay their own bills.",
            "{Pt} said {rel} threatened to stop visiting unless {he} handed over cash.",
        ],
        "response": [
            "Safeguarding referral to adult social care for suspected financial abuse.",
            "Capacity assessment regarding finances completed.",
            "Bank contacted with {pt}'s consent to freeze the card.",
            "Referral to the DWP appointee service considered.",
        ],
        "outcome": [
            "{Pt} lacks capacity regarding complex finances; best interest process started.",
            "{Pt} did not want action taken against {his} family.",
            "Police informed and investigating.",
        ],
        "follow": [
            "Court of Protection deputyship to be considered.",
            "Financial assessment to be done by social worker.",
            "Family meeting arranged.",
        ],
    },
    "criminal_exploitation": {
        "open": [
            "CPN went to {pt}'s flat for a planned visit.",
            "Neighbours reported lots of people coming and going from {pt}'s flat.",
            "{Pt} has a learning disability and lives alone in a council flat.",
            "Police contacted the team about {pt}'s address.",
            "SU phoned CRHT saying {he} was scared to go home.",
        ],
        "event": [
            "There were several young men in the flat who would not leave, suspected cuckooing.",
            "{Pt} disclosed that dealers from out of area are using {his} flat to sell drugs.",
            "{Pt} said {he} has been made to carry packages to another town (county lines).",
            "{Pt}'s flat has been taken over and {he} is sleeping on the sofa.",
            "{Pt} has unexplained new phones and money and is being asked to hold drugs.",
            "Young people were seen entering the flat and {pt} appeared frightened.",
        ],
        "response": [
            "Police informed and a NRM referral discussed.",
            "Safeguarding referral made for criminal exploitation.",
            "Housing contacted about a possible closure order.",
            "Information shared with the community safety partnership.",
        ],
        "outcome": [
            "{Pt} moved to a temporary address.",
            "{Pt} was reluctant to give more information for fear of reprisals.",
            "Police executed a warrant at the property.",
        ],
        "follow": [
            "Exploitation risk to be added to the risk assessment.",
            "Multi-agency meeting to be held.",
            "Weekly visits in pairs for staff safety.",
        ],
    },
    "think_family": {
        "open": [
            "{Pt} is the main carer for {his} 3 children aged 2, 5 and 9.",
            "During the home visit there was a baby in the house.",
            "There is a new baby in the household and {pt} is under the perinatal team.",
            "{Pt}'s teenage son answered the door and said he was looking after {him}.",
            "{Pt} was admitted under s2 MHA, children at home with partner.",
        ],
        "event": [
            "Children appeared unkempt and the house was unsafe with medication left out.",
            "{Pt} was intoxicated while caring for the children.",
            "{Pt} disclosed thoughts of harming {his} baby.",
            "Young carer identified, child missing school to look after {pt}.",
            "{Pt} said the children had witnessed {his} overdose.",
            "School raised concerns about the child's attendance and welfare.",
        ],
        "response": [
            "Referral made to children's services (MASH).",
            "Health visitor and school nurse informed.",
            "Think family screening completed and child protection advice sought.",
            "Discussed with the named nurse for safeguarding children.",
        ],
        "outcome": [
            "Children to stay with grandparents while {pt} is in hospital.",
            "Social worker allocated to the family.",
            "Child in need plan agreed.",
        ],
        "follow": [
            "Young carers assessment to be requested.",
            "CPN to attend the child protection conference.",
            "Think family section of the care plan to be completed.",
        ],
    },
    "missed_escalation": {
        "open": [
            "On review of the notes it was found that concerns raised last week were not acted on.",
            "GP wrote to the CMHT about deterioration but the letter was not seen.",
            "Police shared information about a recent incident but it was not passed on.",
            "CRHT discharged {pt} but the CMHT were not informed.",
        ],
        "event": [
            "The referral was not triaged for 3 weeks and {pt} was not contacted.",
            "The safeguarding concern was not escalated to the duty worker.",
            "Risk information from the ED was not shared with the community team.",
            "{Pt} did not attend {his} appointment and there was no follow-up.",
            "Different agencies held different parts of the picture and no one coordinated.",
            "The warning from {rel} about {pt}'s deterioration was not recorded.",
        ],
        "response": [
            "Escalated to the team manager.",
            "Retrospective safeguarding referral made.",
            "Information sharing meeting arranged.",
            "Duty worker contacted {pt} the same day.",
        ],
        "outcome": [
            "{Pt} was found to have deteriorated significantly.",
            "No harm came to {pt} but the risk was present.",
            "{Pt} was admitted to hospital.",
        ],
        "follow": [
            "Learning to be shared about DNA policy and professional curiosity.",
            "Review of the referral triage process.",
            "Team reminded of escalation pathway.",
        ],
    },
    "discharge_transition": {
        "open": [
            "{Pt} was discharged from {ward} on Friday afternoon.",
            "{Pt} transitioned from CAMHS to adult services this month.",
            "{Pt} was released from prison last week and was under MH services before.",
            "Discharge planning meeting was held without the community team present.",
        ],
        "event": [
            "{Pt} was discharged without medication and no follow-up appointment booked.",
            "The 72 hour follow-up did not happen because the discharge summary was not sent.",
            "{Pt} was discharged to no fixed abode and there was no housing plan.",
            "The transition plan was not in place and {pt} fell between services.",
            "GP was not informed of the discharge and medication changes.",
            "Discharge letter went to the wrong team.",
        ],
        "response": [
            "Ward contacted {pt} and arranged follow-up.",
            "Home treatment team asked to visit.",
            "Duty worker arranged a prescription with the GP.",
            "Housing options team contacted.",
        ],
        "outcome": [
            "{Pt} was seen 5 days after discharge.",
            "{Pt} was readmitted within a week.",
            "{Pt} was found safe.",
        ],
        "follow": [
            "Discharge checklist to be reviewed.",
            "Transition protocol between CAMHS and AMHS to be audited.",
            "Joint working agreement with the prison in-reach team to be updated.",
        ],
    },
    "substance_use": {
        "open": [
            "{Pt} returned from leave smelling strongly of alcohol.",
            "{Pt} was suspected of using cannabis in the garden.",
            "Staff found a bag of white powder in {pt}'s room during a search.",
            "{Pt} is known to use spice and cocaine.",
            "{Pt} was intoxicated at the CMHT appointment.",
        ],
        "event": [
            "{Pt} was found unresponsive in {his} room after taking illicit drugs.",
            "Breathalyser reading was high and {pt} was aggressive.",
            "{Pt} was vomiting and confused, suspected spice use.",
            "Visitor was seen passing drugs to {pt} in the garden.",
            "{Pt} admitted to drinking a bottle of vodka and taking {his} meds.",
            "Empty cans of alcohol were found in {pt}'s wardrobe.",
        ],
        "response": [
            "Naloxone given and ambulance called.",
            "Items confiscated and police informed.",
            "Physical obs monitored hourly.",
            "Substance misuse service referral made.",
        ],
        "outcome": [
            "{Pt} recovered and was monitored overnight.",
            "{Pt} was taken to A&E for assessment.",
            "{Pt} declined referral to substance misuse services.",
        ],
        "follow": [
            "Visits to be supervised.",
            "Dual diagnosis lead to review.",
            "Leave suspended pending review.",
        ],
    },
}

#: More variants per theme in other reporting voices: first person, terse notes, timed
#: entries. Kept apart so each voice can be read and extended on its own.
OTHER_VOICES: dict[str, dict[str, list[str]]] = {
    "self_harm": {
        "open": ["At {time} I was doing the obs round on {ward}.", "pt low in mood ++ since ward round, declined lunch."],
        "event": [
            "lig|I found {pt} on the floor of the en-suite with a ligature around {his} neck, still breathing.",
            "cut|{Pt} self harmed by cutting {his} thigh with a razor blade {he} had hidden in {his} shoe.",
            "lig|pt tied ligature x2 today, both removed by staff.",
            "od|{Pt} was found in the garden trying to swallow batteries and screws.",
            "od|{Pt} said {he} had taken all {his} sertraline and some of {his} mum's tablets.",
        ],
        "response": ["lig|I called for help and cut the ligature, {pt} was put in the recovery position.", "cut|Wounds glued by the duty doctor, tetanus status checked."],
        "outcome": ["lig|Ligature marks visible but no lasting injury.", "{Pt} was medically cleared and returned to the ward on 1:1 obs."],
        "follow": ["Safety plan updated with {pt}, who agreed to tell staff when urges are strong."],
    },
    "absconding": {
        "open": ["esc|I was escorting {pt} on s17 leave to the local shop.", "{time} - {pt} asked for fresh air leave."],
        "event": [
            "esc|{Pt} ran from me as we crossed the road and I lost sight of {him}.",
            "ward|pt AWOL, last seen leaving via the reception at {time}.",
            "leave|{Pt} did not come back from overnight leave at home and {his} family did not know where {he} was.",
            "ward|{Pt} climbed out through a window restrictor that had been damaged.",
        ],
        "response": ["I informed the NIC straight away and police were called as {pt} is high risk.", "AWOL form completed and sent to MHA office."],
        "outcome": ["{Pt} was found by police at the train station and brought back.", "leave|{Pt} rang the ward at {time} saying {he} was at {his} mum's and agreed to return."],
        "follow": ["ward|Window restrictor to be fixed by estates urgently."],
    },
    "violence_to_staff": {
        "open": ["I asked {pt} to stop banging on the nursing office window.", "{time} {pt} shouting and swearing at staff in the dining room."],
        "event": [
            "{Pt} then punched me twice on the side of the head.",
            "pt kicked out at staff during redirection, HCA kicked in the stomach.",
            "{Pt} threw a cup of hot coffee at {staff}, causing a scald to the arm.",
            "{Pt} verbally abused staff with racial slurs and then swung a fist at a nurse.",
        ],
        "response": ["I pressed my alarm and the response team came.", "Injury photographed and the staff member was advised to see their GP."],
        "outcome": ["I have a bruise to my cheek and a headache.", "Staff member shaken but did not want to go home."],
        "follow": ["Staff member to complete a police statement if they wish to."],
    },
    "patient_assault": {
        "open": ["{time} loud shouting heard from the male corridor.", "I heard a scream from the lounge and went to see."],
        "event": [
            "{Pt} had been punched in the mouth by another pt over a cigarette lighter.",
            "A pt grabbed {pt} by the throat in the queue for medication.",
            "pt was hit with a pool cue by another pt in the activity room.",
        ],
        "response": ["I separated them and took {pt} to the clinic room to be checked.", "Perpetrator nursed in the ward extra care area."],
        "outcome": ["{Pt} had a cut lip and a loose tooth, dental review requested."],
        "follow": ["Victim's NOK informed and support offered."],
    },
    "restrictive_practice": {
        "open": ["Pt escalating ++, throwing furniture, PRN refused.", "At {time} the response team was called to {ward}."],
        "event": [
            "I was at the head during the restraint and {pt} was in the prone position for 2 mins.",
            "{Pt} was given {im} as rapid tranquillisation under restraint.",
            "{Pt} was taken to seclusion by {n} staff using a supported walk.",
            "pt held in a standing restraint then moved to seclusion, RT given.",
        ],
        "response": ["Post RT physical obs every 15 mins for an hour, all within range.", "Seclusion was ended at the first medical review."],
        "outcome": ["{Pt} had bruising to {his} wrists after the hold."],
        "follow": ["Restraint debrief completed with staff and with {pt}."],
    },
    "sexual_safety": {
        "open": ["At {time} I heard {pt} shouting from {his} bedroom.", "{Pt} has been making sexualised comments to staff for a week."],
        "event": [
            "{Pt} said that a male pt came into {his} room at night and got into {his} bed.",
            "{Pt} tried to touch the HCA's bottom while she was doing obs.",
            "{Pt} reported that another pt had shown {him} pornographic images on a phone.",
            "pt alleges sexual assault by a visitor in the ward garden.",
        ],
        "response": ["I reassured {pt} and informed the NIC and police.", "Forensic considerations discussed with police, bedding bagged."],
        "outcome": ["Alleged perpetrator placed on level 3 obs and moved to a single-sex corridor."],
        "follow": ["Sexual safety assessment to be repeated for all pts on the ward."],
    },
    "medication_error": {
        "open": ["I was doing the lunchtime meds round on {ward}.", "Pharmacist reviewing the chart at {time}."],
        "event": [
            "I realised I had given {pt} the 10mg tablet instead of 5mg.",
            "PRN given twice within 1 hour as not signed on the chart.",
            "{Pt}'s clozapine had been stopped for 3 days and restarted at full dose without retitration.",
            "The wrong pt's name was on the depot label.",
            "{Pt} was given penicillin despite a documented allergy.",
        ],
        "response": ["I told the NIC straight away and the doctor examined {pt}.", "Pharmacy advised monitoring BP and pulse 4 hourly."],
        "outcome": ["{Pt} had a mild rash that settled with antihistamine."],
        "follow": ["I have completed a reflection and will redo my medication competency."],
    },
    "self_neglect": {
        "open": ["I visited {pt} at home with the social worker.", "Concerns raised by the postman that {pt} had not been seen for days."],
        "event": [
            "{Pt} was living in one room, surrounded by rotting food and cat faeces.",
            "The flat had no electricity and {pt} was wearing the same clothes as last week.",
            "pt is not eating, weight loss ++, fridge empty, refusing help.",
            "{Pt}'s leg ulcers were infected and {he} had not let the district nurses in.",
        ],
        "response": ["I arranged an urgent GP visit and a welfare check by police.", "Referred to the hoarding panel."],
        "outcome": ["{Pt} agreed to a clear-up of the kitchen only."],
        "follow": ["Self neglect risk to stay on the caseload review list."],
    },
    "domestic_abuse": {
        "open": ["I saw {pt} alone, as {his} partner usually attends appointments.", "{time} {pt} phoned the CRHT crying."],
        "event": [
            "{Pt} said {his} partner had pushed {him} down the stairs last week.",
            "pt disclosed DV by partner, reports being choked and threatened with a knife.",
            "{Pt} told me {his} partner checks {his} phone and will not let {him} see friends.",
            "{Pt} has a black eye and said {his} son hit {him} when he was drunk.",
        ],
        "response": ["I completed a DASH with {pt} (score 16) and referred to MARAC.", "Police informed due to high risk, {pt} consented."],
        "outcome": ["{Pt} went to stay with {his} sister."],
        "follow": ["Flag added to the record about DV, do not discuss in front of the partner."],
    },
    "financial_abuse": {
        "open": ["I visited {pt} to help with a benefits form.", "{Pt} was tearful at the depot clinic saying {he} had no money."],
        "event": [
            "{Pt} said {rel} has taken out loans in {his} name.",
            "pt says family member keeps {his} bank card and only gives {him} 10 pounds a week.",
            "{Rel} moved into {pt}'s flat and is not paying anything towards the bills.",
            "{Pt}'s savings have gone down by several thousand pounds since {rel} became involved.",
        ],
        "response": ["I raised a safeguarding concern with adult social care the same day.", "Advice sought from the trust safeguarding team."],
        "outcome": ["{Pt} is worried about losing contact with {his} family if action is taken."],
        "follow": ["Appointeeship to be explored at the next review."],
    },
    "criminal_exploitation": {
        "open": ["I visited {pt} at home at {time} and a stranger opened the door.", "pt known to be vulnerable to exploitation."],
        "event": [
            "{Pt} told me people from London were staying at the flat and selling drugs.",
            "{Pt} has been befriended by a group who make {him} hold knives and drugs for them.",
            "suspected cuckooing at pt's address, multiple unknown males present.",
            "{Pt} owes money to dealers who have threatened {him} and taken {his} phone.",
        ],
        "response": ["I left the property for my own safety and called the police non-emergency number.", "Referral to the local exploitation panel."],
        "outcome": ["{Pt} was moved to emergency accommodation out of area."],
        "follow": ["Lone working risk for the address updated."],
    },
    "think_family": {
        "open": ["I visited {pt} at home and {his} 4 year old was in the room.", "{Pt} has 2 children under 5 and is a single parent."],
        "event": [
            "{Pt} said {he} sometimes leaves the children alone when {he} goes out to buy alcohol.",
            "The children were not in school and the house had no food.",
            "{Pt}'s 12 year old daughter told staff she does all the cooking and cleaning.",
            "pt acutely unwell with children at home, partner also has MH problems.",
        ],
        "response": ["I phoned the MASH and made a referral.", "Discussed with the health visitor and GP the same day."],
        "outcome": ["Children's social care to visit within 24 hours."],
        "follow": ["Think family to be discussed at every CPA review for {pt}."],
    },
    "missed_escalation": {
        "open": ["On reviewing the notes I found that {pt}'s risk had increased over a month.", "{Rel} had phoned the team twice that week."],
        "event": [
            "The message from {rel} was not passed to the care coordinator.",
            "The referral from the GP sat in the duty inbox for 2 weeks without action.",
            "The police concern form was not uploaded to RiO and the team did not know.",
            "No one followed up when {pt} did not attend 3 appointments in a row.",
            "The CRHT and CMHT both thought the other team was seeing {pt}.",
        ],
        "response": ["I escalated to the team manager and arranged an urgent visit.", "The case was discussed at the daily duty huddle."],
        "outcome": ["{Pt} was seen and found to be relapsing."],
        "follow": ["Learning to be shared at the team business meeting about checking the duty inbox."],
    },
    "discharge_transition": {
        "open": ["{Pt} was discharged from hospital at short notice because of bed pressures.", "I received the discharge summary a week after {pt} went home."],
        "event": [
            "{Pt} went home with only 2 days of medication and no prescription.",
            "The community team were not invited to the discharge CPA.",
            "{Pt} was discharged to a B&B out of area without the team being told.",
            "pt turned 18 and was discharged from CAMHS without a referral to adult services.",
            "{Pt} was released from prison with no GP and no MH follow up.",
        ],
        "response": ["I arranged an urgent visit and a bridging prescription.", "The 72 hour follow-up was completed late by the CPN."],
        "outcome": ["{Pt} was readmitted under s2 MHA 10 days later."],
        "follow": ["Discharge planning to involve the community team from admission."],
    },
    "substance_use": {
        "open": ["At {time} {pt} came back to the ward unsteady on {his} feet.", "pt suspected under the influence, pupils pinpoint."],
        "event": [
            "{Pt} admitted to taking heroin while on leave.",
            "I found {pt} smoking spice in the toilets.",
            "{Pt} was drinking in the park with friends and missed {his} appointment.",
            "Drugs paraphernalia found in {pt}'s room during a room search.",
        ],
        "response": ["Obs taken, NEWS 3, duty doctor reviewed.", "Items handed to police under the trust illicit substances policy."],
        "outcome": ["{Pt} was drowsy but rousable and recovered overnight."],
        "follow": ["Referral to the drug and alcohol service with {pt}'s consent."],
    },
}
for _theme, _slots in OTHER_VOICES.items():
    for _slot, _variants in _slots.items():
        BANKS[_theme][_slot].extend(_variants)

#: Generic sentences shared by every theme: obs, reporting, handover, NOK, Datix.
FILLERS: list[str] = [
    "Datix completed.",
    "NOK informed.",
    "NIC informed and aware.",
    "Handover given to the night staff.",
    "Obs level reviewed.",
    "Bleep holder informed.",
    "Entered onto RiO.",
    "{Pt} is detained under s3 MHA.",
    "Discussed at MDT.",
    "Ward manager to review.",
    "Incident took place on {ward}.",
    "Care plan to be updated.",
    "Risk assessment reviewed.",
    "Debrief offered to staff involved.",
    "Physical obs within normal range.",
    "{Pt} was calm at the time of writing.",
    "Reported at the safety huddle.",
    "Duty doctor informed at {time}.",
    "RC informed by email.",
    "CPN to follow up.",
    "Will discuss in supervision.",
    "CRHT aware.",
    "Staffing on the shift was {n} RMNs and {n} HCAs.",
    "Incident happened at {time}.",
    "Documented in {pt}'s progress notes.",
    "Team manager made aware.",
    "{Pt} is under the care of the CMHT.",
    "{Pt} was on level 1 obs at the time.",
    "Night staff to monitor.",
    "Crisis Resolution Home Treatment team contacted.",
    "{Pt} had been given Olanzapine 10mg IM earlier in the week.",
    "{Pt} has been on s17 leave before without issue.",
    "Previously detained under s136 by police.",
    "Bank staff on shift.",
    "Safeguarding lead informed.",
    "{Pt} was in bed 12 in Ward 3 at the time.",
    "Rose Ward was busy with {n} admissions that day.",
    "I have documented this on RiO.",
    "Staffing was short, 1 RMN on the ward.",
    "Handed over to the day team.",
    "Escalated to the on call manager.",
    "Duty of Candour not applicable.",
    "MDT to review at the next ward round.",
    "{Pt} is known to the CRHT.",
    "Police ref obtained.",
    "Datix completed by the NIC.",
    "Seen by the duty doctor on {ward}.",
    "{Pt} was on s17 leave earlier in the day without incident.",
    "No further concerns at the time of writing.",
    "Plan is to continue to monitor.",
    "Obs continued as per care plan.",
    "Sheet 2 of the risk assessment updated.",
]

#: Uninformative narratives (roughly 5% of incidents): nothing to theme on.
UNINFORMATIVE: list[str] = [
    "See RiO notes.",
    "see rio notes",
    "As per handover.",
    "Please see clinical record for details.",
    "Details on RiO.",
    "Incident as discussed with NIC, see progress notes.",
    "Same as previous Datix.",
    "See attached.",
    "Retrospective Datix - see notes.",
    "Info on RiO",
    "Reported verbally to ward manager. Details in notes.",
    "Please refer to the progress notes for full details of this incident.",
    "as per notes",
    "See email from ward manager.",
    "Details to follow.",
    "Duplicate - see other Datix for this pt.",
    "Incident documented in full on the electronic record, not repeated here.",
    "Refer to RiO entry.",
    "Entered in error, see RiO.",
    "Information as recorded on RiO by the nurse in charge.",
]

#: Opening labels for the "headed" reporting style.
HEADINGS = (
    ("What happened:", "Action taken:", "Outcome:"),
    ("Incident:", "Immediate action:", "Plan:"),
    ("Description -", "Actions -", "Outcome/plan -"),
    ("SITUATION:", "ACTION:", "FOLLOW UP:"),
)

STAFF_ROLES = (
    "staff",
    "the NIC",
    "a HCA",
    "the RMN",
    "the duty doctor",
    "staff nurse",
    "the CPN",
    "bank HCA",
    "the nurse in charge",
    "two members of staff",
)
STAFF_TITLES = ("HCA", "RMN", "SN", "CPN", "Dr", "NIC", "SW", "OT")
RELATIVE_ROLES = (
    "{his} mother",
    "{his} father",
    "{his} son",
    "{his} daughter",
    "{his} brother",
    "{his} sister",
    "{his} nephew",
    "{his} partner",
    "a family member",
)
WARDS = (
    "Rose Ward",
    "Willow Ward",
    "Oak Ward",
    "Beech Ward",
    "Cedar Ward",
    "Ward 3",
    "Ward 7",
    "the PICU",
    "the ward",
)
TIMES = ("14:30", "02:15", "around 8pm", "approx 16:00", "22:45", "09:10", "teatime", "midnight")
IM_DRUGS = (
    "Olanzapine 10mg IM",
    "Lorazepam 2mg IM",
    "Haloperidol 5mg IM and Promethazine 50mg IM",
    "Promethazine 25mg IM",
    "Aripiprazole 9.75mg IM",
)
PRN_DRUGS = (
    "PRN Lorazepam 1mg",
    "PRN Promethazine 25mg",
    "Olanzapine 5mg PRN",
    "PRN Diazepam 5mg",
    "Zopiclone 7.5mg PRN",
)
