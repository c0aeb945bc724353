"""List and install ready-made flows."""

from django.core.management.base import BaseCommand, CommandError

from postpurchase import recipes
from postpurchase.exceptions import FlowDefinitionError


class Command(BaseCommand):
    help = "List ready-made flows, or install one (as a draft unless --live)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="List the recipes.")
        install = sub.add_parser("install", help="Install a recipe by its name.")
        install.add_argument("name")
        install.add_argument("--live", action="store_true", help="Launch it at once.")

    def handle(self, *args, action, **options):
        if action == "list":
            for recipe in recipes.available():
                self.stdout.write(
                    f"{recipe['slug']}: {recipe['name']} (trigger {recipe['trigger']})"
                )
            return
        try:
            flow = recipes.install(options["name"], live=options["live"])
        except FlowDefinitionError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Installed {flow.name!s} ({flow.slug}), status {flow.status}.")
