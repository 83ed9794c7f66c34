# Lists (dashboard tabs, API list) are ordered by (created_at DESC, id DESC) per seller or buyer;
# with the id in the index a page is a plain index range scan (no incremental sort on ties),
# and keyset pagination (created_at, id) < (cursor) reads only the rows it returns.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("escrows", "0003_rel_status_guards")]

    operations = [
        migrations.RemoveIndex(model_name="escrow", name="escrow_seller_recent"),
        migrations.RemoveIndex(model_name="escrow", name="escrow_buyer_recent"),
        migrations.AddIndex(
            model_name="escrow",
            index=models.Index(fields=["seller", "-created_at", "-id"], name="escrow_seller_keyset"),
        ),
        migrations.AddIndex(
            model_name="escrow",
            index=models.Index(fields=["buyer", "-created_at", "-id"], name="escrow_buyer_keyset"),
        ),
    ]
