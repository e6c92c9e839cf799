"""Texts of the pages in bokmål (default), nynorsk and English; dates the Norwegian way.

Each text is one entry with its three languages, so a page never shows one language's text
beside another's gap.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

LANGUAGES = ("nb", "nn", "en")
DEFAULT = "nb"
OSLO = ZoneInfo("Europe/Oslo")

MONTHS = {
    "nb": "januar februar mars april mai juni juli august september oktober november desember",
    "nn": "januar februar mars april mai juni juli august september oktober november desember",
    "en": "January February March April May June July August September October November December",
}

T: dict[str, tuple[str, str, str]] = {
    "site": ("Fremtidens kulturskole", "Framtidas kulturskule", "Future Culture School"),
    "skip": ("Hopp til hovedinnhold", "Hopp til hovudinnhald", "Skip to main content"),
    "language": ("Språk", "Språk", "Language"),
    "choose": ("Velg", "Vel", "Choose"),
    "sign_in": ("Logg inn", "Logg inn", "Sign in"),
    "sign_out": ("Logg ut", "Logg ut", "Sign out"),
    "signed_in_as": ("Innlogget som", "Innlogga som", "Signed in as"),
    "email": ("E-postadresse", "E-postadresse", "Email address"),
    "email_invalid": (
        "Skriv en e-postadresse, som navn@kommune.no.",
        "Skriv ei e-postadresse, som namn@kommune.no.",
        "Enter an email address, like name@municipality.no.",
    ),
    "send_link": ("Send innloggingslenke", "Send innloggingslenkje", "Send sign-in link"),
    "sign_in_intro": (
        "Skriv e-postadressen din. Er den kjent for programmet, får du en lenke som gjelder "
        "én gang og en kort stund.",
        "Skriv e-postadressa di. Er ho kjend for programmet, får du ei lenkje som gjeld éin "
        "gong og ei kort stund.",
        "Enter your email address. If the programme knows it, you get a link that works once "
        "and for a short while.",
    ),
    "link_sent": (
        "Hvis adressen er kjent for programmet, har vi sendt en innloggingslenke dit. Sjekk "
        "e-posten din.",
        "Dersom adressa er kjend for programmet, har vi sendt ei innloggingslenkje dit. Sjekk "
        "e-posten din.",
        "If the programme knows the address, we have sent a sign-in link there. Check your email.",
    ),
    "too_many": (
        "For mange forsøk. Vent litt og prøv igjen.",
        "For mange forsøk. Vent litt og prøv igjen.",
        "Too many attempts. Wait a while and try again.",
    ),
    "link_invalid": (
        "Lenken er brukt, utløpt eller ugyldig. Be om en ny.",
        "Lenkja er brukt, gått ut eller ugyldig. Be om ei ny.",
        "The link has been used, has expired or is invalid. Ask for a new one.",
    ),
    "confirm_sign_in": ("Fullfør innloggingen", "Fullfør innlogginga", "Complete sign-in"),
    "confirm_sign_in_intro": (
        "Trykk på knappen for å logge inn som",
        "Trykk på knappen for å logge inn som",
        "Press the button to sign in as",
    ),
    "mail_subject": (
        "Innlogging – Fremtidens kulturskole",
        "Innlogging – Framtidas kulturskule",
        "Sign-in – Future Culture School",
    ),
    "mail_body": (
        "Hei {name},\n\nLogg inn med denne lenken. Den gjelder én gang, i {minutes} minutter:\n\n{link}\n\nBa du ikke om den, kan du se bort fra denne e-posten.\n",
        "Hei {name},\n\nLogg inn med denne lenkja. Ho gjeld éin gong, i {minutes} minutt:\n\n{link}\n\nBad du ikkje om ho, kan du sjå bort frå denne e-posten.\n",
        "Hello {name},\n\nSign in with this link. It works once, for {minutes} minutes:\n\n{link}\n\nIf you did not ask for it, ignore this email.\n",
    ),
    "error_summary": (
        "For å gå videre må du rette opp følgende feil:",
        "For å gå vidare må du rette opp følgjande feil:",
        "To go on, correct the following errors:",
    ),
    "forbidden": (
        "Du har ikke tilgang til denne siden.",
        "Du har ikkje tilgang til denne sida.",
        "You do not have access to this page.",
    ),
    "sign_in_needed": (
        "Du må logge inn for å se denne siden.",
        "Du må logge inn for å sjå denne sida.",
        "Sign in to see this page.",
    ),
    "not_found": ("Siden finnes ikke.", "Sida finst ikkje.", "The page does not exist."),
    "service_down": (
        "Tjenesten svarer ikke akkurat nå. Prøv igjen om litt; det du skrev, er tatt vare på.",
        "Tenesta svarar ikkje akkurat no. Prøv igjen om litt; det du skreiv, er teke vare på.",
        "The service does not answer just now. Try again shortly; what you entered is kept.",
    ),
    "saved": ("Lagret.", "Lagra.", "Saved."),
    "round": ("Runde", "Runde", "Round"),
    "rounds": ("Programrunder", "Programrundar", "Programme rounds"),
    "state": ("Status", "Status", "State"),
    "state_open": ("åpen", "open", "open"),
    "state_closed": ("lukket", "lukka", "closed"),
    "state_cancelled": ("avlyst", "avlyst", "cancelled"),
    "interest_deadline": ("Frist for interesse", "Frist for interesse", "Interest deadline"),
    "windows": ("Søknadsvinduer", "Søknadsvindauge", "Application windows"),
    "county": ("Fylke", "Fylke", "County"),
    "opens_on": ("Åpner", "Opnar", "Opens"),
    "deadline": ("Frist", "Frist", "Deadline"),
    "open_now": ("åpent nå", "ope no", "open now"),
    "not_open": ("ikke åpent", "ikkje ope", "not open"),
    "no_rounds": ("Ingen runder er åpnet.", "Ingen rundar er opna.", "No round is open."),
    "board_home": ("Fylkesavdelingens side", "Fylkesavdelinga si side", "County board"),
    "register_interest": ("Meld interesse", "Meld interesse", "Register interest"),
    "interest": ("Interesse", "Interesse", "Interest"),
    "municipalities": ("Kommuner", "Kommunar", "Municipalities"),
    "municipalities_hint": (
        "Kryss av for medlemskommunene som vil være med.",
        "Kryss av for medlemskommunane som vil vere med.",
        "Tick the member municipalities that want to take part.",
    ),
    "contact": ("Kontaktperson", "Kontaktperson", "Contact person"),
    "name": ("Navn", "Namn", "Name"),
    "phone": ("Telefon (valgfritt)", "Telefon (valfritt)", "Phone (optional)"),
    "contact_language": ("Språk for e-post", "Språk for e-post", "Language of mails"),
    "message": ("Melding (valgfritt)", "Melding (valfritt)", "Message (optional)"),
    "send": ("Send", "Send", "Send"),
    "interest_saved": (
        "Interessen er registrert.",
        "Interessa er registrert.",
        "The interest is registered.",
    ),
    "applications": ("Søknader", "Søknader", "Applications"),
    "application": ("Søknad", "Søknad", "Application"),
    "municipality": ("Kommune", "Kommune", "Municipality"),
    "status": ("Status", "Status", "Status"),
    "no_application": ("Ingen søknad ennå", "Ingen søknad enno", "No application yet"),
    "open_application": ("Åpne søknaden", "Opne søknaden", "Open the application"),
    "motivation": ("Begrunnelse", "Grunngiving", "Motivation"),
    "themes": ("Tema", "Tema", "Themes"),
    "development_areas": (
        "Utviklingsområder fylkesavdelingen har vedtatt",
        "Utviklingsområde fylkesavdelinga har vedteke",
        "Development areas the branch has adopted",
    ),
    "own_development_areas": (
        "Kommunens egne utviklingsområder",
        "Kommunen sine eigne utviklingsområde",
        "The municipality's own development areas",
    ),
    "own_development_areas_hint": ("Ett per linje.", "Eitt per linje.", "One a line."),
    "co_creation_plan": ("Plan for samskaping", "Plan for samskaping", "Co-creation plan"),
    "group": ("Kommunegruppe", "Kommunegruppe", "Municipal group"),
    "group_hint": (
        "Kulturskolens representant og partnere fra barnehage, SFO, skole eller andre. "
        "La tomme rader stå.",
        "Kulturskulen sin representant og partnarar frå barnehage, SFO, skule eller andre. "
        "La tomme rader stå.",
        "The kulturskole's representative and partners from kindergarten, after-school, "
        "school or others. Leave empty rows empty.",
    ),
    "member": ("Medlem", "Medlem", "Member"),
    "role": ("Rolle", "Rolle", "Role"),
    "organisation": ("Virksomhet", "Verksemd", "Organisation"),
    "commits": (
        "Forplikter seg til å delta på samlinger og mellomarbeid",
        "Forpliktar seg til å delta på samlingar og mellomarbeid",
        "Commits to the gatherings and the work between them",
    ),
    "role_kulturskole": ("Kulturskole", "Kulturskule", "Kulturskole"),
    "role_barnehage": ("Barnehage", "Barnehage", "Kindergarten"),
    "role_sfo": ("SFO", "SFO", "After-school (SFO)"),
    "role_grunnskole": ("Skole", "Skule", "School"),
    "role_annen": ("Annen", "Annan", "Other"),
    "step_of": ("Steg %d av %d", "Steg %d av %d", "Step %d of %d"),
    "one_at_a_time": (
        "Fyll ut ett spørsmål om gangen",
        "Fyll ut eitt spørsmål om gongen",
        "Fill it in one question at a time",
    ),
    "previous": ("Forrige", "Førre", "Previous"),
    "save_and_go_on": ("Lagre og gå videre", "Lagre og gå vidare", "Save and go on"),
    "save_draft": ("Lagre utkast", "Lagre utkast", "Save draft"),
    "submit_application": ("Send inn søknaden", "Send inn søknaden", "Submit the application"),
    "submitted": (
        "Søknaden er sendt inn.",
        "Søknaden er send inn.",
        "The application is submitted.",
    ),
    "withdraw": ("Trekk kommunen", "Trekk kommunen", "Withdraw the municipality"),
    "withdrawn_ok": (
        "Kommunen er trukket.",
        "Kommunen er trekt.",
        "The municipality is withdrawn.",
    ),
    "reason": ("Begrunnelse", "Grunngiving", "Reason"),
    "decision": ("Vedtak", "Vedtak", "Decision"),
    "decided_by": ("Vedtatt av", "Vedteke av", "Decided by"),
    "st_draft": ("utkast", "utkast", "draft"),
    "st_submitted": ("sendt inn", "send inn", "submitted"),
    "st_admitted": ("tatt opp", "teken opp", "admitted"),
    "st_waitlisted": ("på venteliste", "på venteliste", "wait-listed"),
    "st_declined": ("avslått", "avslått", "declined"),
    "st_withdrawn": ("trukket", "trekt", "withdrawn"),
    "st_revoked": ("opptak trukket tilbake", "opptak trekt tilbake", "admission revoked"),
    "calendar": ("Regionens kalender", "Regionen sin kalender", "The region's calendar"),
    "no_gatherings": (
        "Ingen samlinger er planlagt ennå.",
        "Ingen samlingar er planlagde enno.",
        "No gatherings are planned yet.",
    ),
    "when": ("Når", "Når", "When"),
    "what": ("Hva", "Kva", "What"),
    "where": ("Hvor", "Kvar", "Where"),
    "kind": ("Type", "Type", "Kind"),
    "k_presamling": ("Presamling", "Presamling", "Pre-gathering"),
    "k_samling": ("Samling", "Samling", "Gathering"),
    "k_dialogmote": ("Dialogmøte", "Dialogmøte", "Dialogue meeting"),
    "k_veiledning": ("Veiledning", "Rettleiing", "Supervision"),
    "k_delingsarena": ("Delingsarena", "Delingsarena", "Sharing arena"),
    "cancelled": ("avlyst", "avlyst", "cancelled"),
    "answers": ("Svar", "Svar", "Answers"),
    "answer": ("Svar", "Svar", "Answer"),
    "save_answer": ("Lagre svaret", "Lagre svaret", "Save the answer"),
    "record_attendance": ("Registrer oppmøte", "Registrer oppmøte", "Record attendance"),
    "attendance_hint": (
        "Kryss av for dem som møtte; de andre registreres som fraværende.",
        "Kryss av for dei som møtte; dei andre vert registrerte som fråverande.",
        "Tick those who came; the others are recorded absent.",
    ),
    "attendance_saved": (
        "Oppmøtet er registrert.",
        "Oppmøtet er registrert.",
        "Attendance is recorded.",
    ),
    "answer_saved": ("Svaret er lagret.", "Svaret er lagra.", "The answer is saved."),
    "confirmed": ("Påmeldt", "Påmeldt", "Confirmed"),
    "attended": ("Møtte", "Møtte", "Attended"),
    "invited": ("Invitert", "Invitert", "Invited"),
    "r_yes": ("kommer", "kjem", "coming"),
    "r_no": ("kommer ikke", "kjem ikkje", "not coming"),
    "r_maybe": ("kanskje", "kanskje", "maybe"),
    "r_none": ("ikke svart", "ikkje svart", "no answer"),
    "role_county_board": ("Fylkesstyret", "Fylkesstyret", "County board"),
    "role_municipality": ("Kommunen", "Kommunen", "The municipality"),
    "role_guest": ("Gjest", "Gjest", "Guest"),
    "ask_dialogue": ("Be om et dialogmøte", "Be om eit dialogmøte", "Ask for a dialogue meeting"),
    "topic": ("Tema for møtet", "Tema for møtet", "Topic"),
    "wished_dates": (
        "Ønskede datoer (valgfritt)",
        "Ønskte datoar (valfritt)",
        "Wished dates (optional)",
    ),
    "wished_dates_hint": (
        "ÅÅÅÅ-MM-DD, skilt med komma",
        "ÅÅÅÅ-MM-DD, skilde med komma",
        "YYYY-MM-DD, separated by commas",
    ),
    "dialogue_requested": (
        "Forespørselen er sendt.",
        "Førespurnaden er send.",
        "The request is sent.",
    ),
    "details": ("Detaljer", "Detaljar", "Details"),
    "programme_home": ("Programledelsen", "Programleiinga", "Programme management"),
    "open_round": ("Åpne en runde", "Opne ein runde", "Open a round"),
    "round_id": ("Runde (startår)", "Runde (startår)", "Round (starting year)"),
    "capacity_hint": (
        "Plasser per region, f.eks. «vestland=2, trondelag=2» (valgfritt)",
        "Plassar per region, t.d. «vestland=2, trondelag=2» (valfritt)",
        "Places per region, e.g. “vestland=2, trondelag=2” (optional)",
    ),
    "capacity": ("Kapasitet", "Kapasitet", "Capacity"),
    "overview": ("Oversikt over fylkene", "Oversikt over fylka", "Overview of the counties"),
    "branch": ("Fylkesavdeling", "Fylkesavdeling", "County branch"),
    "registered_interest": ("Meldt interesse", "Meldt interesse", "Registered interest"),
    "yes": ("ja", "ja", "yes"),
    "no": ("nei", "nei", "no"),
    "interested": ("Interessert", "Interessert", "Interested"),
    "applied": ("Søkt", "Søkt", "Applied"),
    "admitted": ("Tatt opp", "Tekne opp", "Admitted"),
    "waitlisted": ("Venteliste", "Venteliste", "Wait-listed"),
    "declined": ("Avslått", "Avslått", "Declined"),
    "withdrawn": ("Trukket", "Trekte", "Withdrawn"),
    "open_window": ("Åpne søknadsvindu", "Opne søknadsvindauge", "Open an application window"),
    "window_opened": (
        "Søknadsvinduet er åpnet.",
        "Søknadsvindauget er opna.",
        "The window is open.",
    ),
    "round_opened": ("Runden er åpnet.", "Runden er opna.", "The round is open."),
    "decide": ("Fatt vedtak", "Gjer vedtak", "Decide"),
    "d_admit": ("Ta opp", "Ta opp", "Admit"),
    "d_waitlist": ("Sett på venteliste", "Set på venteliste", "Wait-list"),
    "d_decline": ("Avslå", "Avslå", "Decline"),
    "decision_reason": (
        "Begrunnelse (må med ved avslag)",
        "Grunngiving (må med ved avslag)",
        "Reason (required to decline)",
    ),
    "early_reason": (
        "Hvorfor før søknadsfristen (bare hvis vinduet fortsatt er åpent)",
        "Kvifor før søknadsfristen (berre dersom vindauget framleis er ope)",
        "Why before the deadline (only while the window is still open)",
    ),
    "decided": ("Vedtaket er registrert.", "Vedtaket er registrert.", "The decision is recorded."),
    "plan": ("Planlegg samlinger", "Planlegg samlingar", "Plan gatherings"),
    "region": ("Region", "Region", "Region"),
    "semester": ("Semester", "Semester", "Semester"),
    "semester_hint": (
        "0 er forrunden (presamlinger), 1–3 semestrene",
        "0 er forrunden (presamlingar), 1–3 semestera",
        "0 is the pre-round (pre-gatherings), 1–3 the semesters",
    ),
    "plan_semester": ("Planlegg semesteret", "Planlegg semesteret", "Plan the semester"),
    "starts_on": ("Første dag", "Første dag", "First day"),
    "ends_on": ("Siste dag", "Siste dag", "Last day"),
    "semester_planned": (
        "Semesteret er planlagt.",
        "Semesteret er planlagt.",
        "The semester is planned.",
    ),
    "suggestions": ("Forslag til datoer", "Forslag til datoar", "Suggested dates"),
    "show_suggestions": ("Vis forslag", "Vis forslag", "Show suggestions"),
    "passed_over": ("Dager som ble hoppet over", "Dagar som vart hoppa over", "Days passed over"),
    "schedule": ("Sett opp samlingen", "Set opp samlinga", "Schedule the gathering"),
    "title": ("Tittel", "Tittel", "Title"),
    "venue": ("Sted", "Stad", "Venue"),
    "address": ("Adresse", "Adresse", "Address"),
    "day": ("Dag", "Dag", "Day"),
    "start_time": ("Starter kl.", "Startar kl.", "Starts at"),
    "end_time": ("Slutter kl.", "Sluttar kl.", "Ends at"),
    "scheduled": ("Samlingen er satt opp.", "Samlinga er sett opp.", "The gathering is scheduled."),
    "deliveries": ("E-postlogg", "E-postlogg", "Mail delivery log"),
    "template": ("Melding", "Melding", "Message"),
    "attempts": ("Forsøk", "Forsøk", "Attempts"),
    "created": ("Laget", "Laga", "Created"),
    "observer_home": ("Tall for runden", "Tal for runden", "The round's counts"),
    "totals": ("Totalt", "Totalt", "Totals"),
    "home": ("Forside", "Framside", "Home"),
    "end_round": (
        "Avslutt eller avlys runden",
        "Avslutt eller avlys runden",
        "Close or cancel the round",
    ),
    "close_round": ("Lukk runden", "Lukk runden", "Close the round"),
    "cancel_round": ("Avlys runden", "Avlys runden", "Cancel the round"),
    "end_reason": (
        "Begrunnelse (må med ved avlysning)",
        "Grunngiving (må med ved avlysing)",
        "Reason (required to cancel)",
    ),
    "round_closed": ("Runden er lukket.", "Runden er lukka.", "The round is closed."),
    "round_cancelled": ("Runden er avlyst.", "Runden er avlyst.", "The round is cancelled."),
    "revoke": ("Trekk tilbake opptaket", "Trekk tilbake opptaket", "Revoke the admission"),
    "revoked": (
        "Opptaket er trukket tilbake.",
        "Opptaket er trekt tilbake.",
        "The admission is revoked.",
    ),
    "waitlist_order": ("Venteliste", "Venteliste", "Wait-list"),
    "move_reason": ("Begrunnelse for flyttingen", "Grunngiving for flyttinga", "Why it moves"),
    "cancel_reason": (
        "Begrunnelse for avlysningen",
        "Grunngiving for avlysinga",
        "Why it is cancelled",
    ),
    "reschedule": ("Flytt samlingen", "Flytt samlinga", "Move the gathering"),
    "rescheduled": ("Samlingen er flyttet.", "Samlinga er flytta.", "The gathering is moved."),
    "cancel_gathering": ("Avlys samlingen", "Avlys samlinga", "Cancel the gathering"),
    "gathering_cancelled": (
        "Samlingen er avlyst.",
        "Samlinga er avlyst.",
        "The gathering is cancelled.",
    ),
    "change_capacity": ("Endre kapasitet", "Endre kapasitet", "Change capacity"),
    "places": ("Plasser", "Plassar", "Places"),
    "capacity_changed": (
        "Kapasiteten er endret.",
        "Kapasiteten er endra.",
        "The capacity is changed.",
    ),
    "extend_deadline": ("Utsett en frist", "Utset ein frist", "Extend a deadline"),
    "deadline_kind_interest": ("Frist for interesse", "Frist for interesse", "Interest deadline"),
    "deadline_kind_application": (
        "Søknadsfrist for et fylke",
        "Søknadsfrist for eit fylke",
        "A county's application deadline",
    ),
    "county_if_application": (
        "Fylke (for søknadsfrist)",
        "Fylke (for søknadsfrist)",
        "County (for an application deadline)",
    ),
    "new_deadline": ("Ny frist", "Ny frist", "New deadline"),
    "deadline_extended": ("Fristen er utsatt.", "Fristen er utsett.", "The deadline is extended."),
    "participants_export": (
        "Deltakerliste (CSV for Excel)",
        "Deltakarliste (CSV for Excel)",
        "Participants (CSV for Excel)",
    ),
    "attendance_rates": ("Oppmøte", "Oppmøte", "Attendance"),
    "recorded": ("Registrert", "Registrert", "Recorded"),
    "rate": ("Andel", "Del", "Rate"),
    "back": ("Tilbake", "Tilbake", "Back"),
    "day_and_times": (
        "Oppgi dag, starttid og sluttid.",
        "Oppgi dag, starttid og sluttid.",
        "Give the day, the start and the end.",
    ),
    "end_after_start": (
        "Må være etter starttiden.",
        "Må vere etter starttida.",
        "Must be after the start.",
    ),
    "book_supervision": ("Book veiledning", "Book rettleiing", "Book supervision"),
    "supervision_intro": (
        "Veiledning av én kommune som er tatt opp. Den vises i regionens kalender for "
        "programledelsen og fylkesavdelingen.",
        "Rettleiing av éin kommune som er teken opp. Ho blir vist i regionen sin kalender for "
        "programleiinga og fylkesavdelinga.",
        "Supervision of one admitted municipality. It shows in the region's calendar for "
        "programme management and the county board.",
    ),
    "no_admitted": (
        "Ingen kommuner i regionen er tatt opp ennå.",
        "Ingen kommunar i regionen er tekne opp enno.",
        "No municipality of the region is admitted yet.",
    ),
    "supervisor": ("Veileder (id)", "Rettleiar (id)", "Supervisor (id)"),
    "supervisor_hint": (
        "En id dere velger, uten navn: bokstaver, tall, punktum, _ og -.",
        "Ein id de vel, utan namn: bokstavar, tal, punktum, _ og -.",
        "An id of your choosing, no name: letters, digits, full stop, _ and -.",
    ),
    "title_optional": ("Tittel (valgfritt)", "Tittel (valfritt)", "Title (optional)"),
    "digital_link": (
        "Lenke til digitalt møte",
        "Lenkje til digitalt møte",
        "Link to a digital meeting",
    ),
    "venue_hint": (
        "Oppgi adresse, lenke til digitalt møte eller begge.",
        "Oppgi adresse, lenkje til digitalt møte eller begge.",
        "Give an address, a link to a digital meeting, or both.",
    ),
    "supervision_booked": (
        "Veiledningen er booket.",
        "Rettleiinga er booka.",
        "The supervision is booked.",
    ),
    "dialogue_requests": (
        "Forespørsler om dialogmøte",
        "Førespurnader om dialogmøte",
        "Dialogue meeting requests",
    ),
    "open_requests": ("Ubesvarte", "Ikkje svarte", "Not yet answered"),
    "answered_requests": ("Besvarte", "Svarte", "Answered"),
    "no_open_requests": (
        "Ingen forespørsler venter på svar.",
        "Ingen førespurnader ventar på svar.",
        "No request waits for an answer.",
    ),
    "origin": ("Fra", "Frå", "From"),
    "origin_board": ("fylkesavdelingen", "fylkesavdelinga", "the county board"),
    "origin_programme": ("programledelsen", "programleiinga", "programme management"),
    "requested_by": ("Bedt om av", "Bede om av", "Asked by"),
    "requested_at": ("Sendt", "Send", "Sent"),
    "wished": ("Ønskede datoer", "Ønskte datoar", "Wished dates"),
    "answer_request": ("Sett opp møtet", "Set opp møtet", "Schedule the meeting"),
    "the_meeting": ("Møtet", "Møtet", "The meeting"),
    "schedule_dialogue": (
        "Sett opp dialogmøtet",
        "Set opp dialogmøtet",
        "Schedule the dialogue meeting",
    ),
    "also_invite": (
        "Inviter også kommuner (valgfritt)",
        "Inviter også kommunar (valfritt)",
        "Also invite municipalities (optional)",
    ),
    "also_invite_hint": (
        "Fylkesstyret inviteres alltid.",
        "Fylkesstyret blir alltid invitert.",
        "The county board is always invited.",
    ),
    "dialogue_scheduled": (
        "Dialogmøtet er satt opp.",
        "Dialogmøtet er sett opp.",
        "The dialogue meeting is scheduled.",
    ),
}


def t(key: str, lang: str) -> str:
    found = T[key]
    return found[LANGUAGES.index(lang) if lang in LANGUAGES else 0]


def pick_language(cookie: str | None, accept_language: str | None) -> str:
    """The chosen language (cookie), else bokmål: the programme's pages are Norwegian first."""
    if cookie in LANGUAGES:
        return cookie
    return DEFAULT


def format_date(value: date | str | None, lang: str) -> str:
    """`15. september 2027` (nb, nn), `15 September 2027` (en)."""
    if value is None or value == "":
        return ""
    day = date.fromisoformat(value[:10]) if isinstance(value, str) else value
    month = MONTHS[lang if lang in MONTHS else DEFAULT].split()[day.month - 1]
    if lang == "en":
        return f"{day.day} {month} {day.year}"
    return f"{day.day}. {month} {day.year}"


def format_datetime(value: datetime | str | None, lang: str) -> str:
    """In Europe/Oslo: `15. september 2027 kl. 14.30` (nb, nn), `15 September 2027, 14:30`."""
    if value is None or value == "":
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    local = moment.astimezone(OSLO) if moment.tzinfo else moment.replace(tzinfo=OSLO)
    day = format_date(local.date(), lang)
    if lang == "en":
        return f"{day}, {local:%H:%M}"
    return f"{day} kl. {local:%H.%M}"
