"""Events and commands in; projections, reminders and planned mails out, in one unit of work.

Each handler loads what it needs through the store (`Context.store`), lets the pure rules in
`domain/` decide which mails the message causes, and saves them under the message's id: a
redelivered event plans nothing twice (the inbox skips it, and deliveries are unique per
event, recipient and template). `services.notification.app` lists them all.
"""
