import sys
from pathlib import Path

from django.core.management.base import BaseCommand

from suppliers.csv_exchange import supplier_export_csv
from suppliers.selectors import supplier_list


class Command(BaseCommand):
    help = "Export supplier master data as CSV for German Excel (semicolons, UTF-8 with BOM, German headers)."

    def add_arguments(self, parser):
        parser.add_argument("--output", type=Path, help="File to write (default: standard output)")
        parser.add_argument("--active", choices=["1", "0"], default="", help="Only active (1) or inactive (0) ones")

    def handle(self, *args, output, active, **options):
        suppliers = supplier_list(active=active)
        data = supplier_export_csv(suppliers)
        if output is None:
            sys.stdout.buffer.write(data)
        else:
            output.write_bytes(data)
            self.stderr.write(f"{suppliers.count()} Lieferanten nach {output} geschrieben.")
