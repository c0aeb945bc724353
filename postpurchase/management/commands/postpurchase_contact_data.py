"""Data protection from the shell: export everything about a contact as JSON, erase a
contact, or lift the block of an erased address (docs/consent.md)."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from postpurchase.dataprotection import suppression
from postpurchase.dataprotection.erase import erase_contact
from postpurchase.dataprotection.export import export_json
from postpurchase.models import Contact, normalize_email


class Command(BaseCommand):
    help = "Export (JSON) or erase everything about a contact, or lift an erased address."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        export = sub.add_parser("export", help="Print (or write) the contact's data as JSON.")
        export.add_argument("email")
        export.add_argument("--output", "-o", help="Write to this file instead of stdout.")
        erase = sub.add_parser("erase", help="Delete the contact and block its address.")
        erase.add_argument("email")
        erase.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")
        lift = sub.add_parser("lift", help="Take an erased address off the blocked list.")
        lift.add_argument("email")

    def handle(self, *args, action, email, **options):
        try:
            address = normalize_email(email)
        except ValidationError:
            raise CommandError("That is not an email address.") from None
        contact = Contact.objects.filter(email=address).first()
        if action == "lift":
            if contact is not None:
                changed = suppression.lift(contact)
            else:
                changed = suppression.lift_address(address)
            self.stdout.write("Lifted." if changed else "That address was not blocked.")
            return
        if contact is None:
            raise CommandError("No contact has that address.")
        if action == "export":
            body = export_json(contact)
            if options.get("output"):
                with open(options["output"], "w", encoding="utf-8") as out:
                    out.write(body)
                self.stdout.write(f"Contact {contact.pk} written to {options['output']}.")
            else:
                self.stdout.write(body)
            return
        if not options["yes"]:
            answer = input(f"Erase contact {contact.pk} and everything about it? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                raise CommandError("Not erased.")
        result = erase_contact(contact)
        total = sum(result["deleted"].values())
        self.stdout.write(f"Contact {contact.pk} erased ({total} rows deleted); address blocked.")
