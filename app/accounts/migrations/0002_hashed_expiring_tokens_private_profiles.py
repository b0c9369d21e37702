"""Tokens stored as SHA-256 digests with an expiry, several per user; profiles private unless opted in.

The cleartext tokens are invalidated, not hashed: they have been readable by anyone with a copy of the
table (backups, replicas, a database console), so keeping them valid would keep those copies usable as
credentials.  Dropping the table is that invalidation; clients sign in again (POST /api/v1/auth/token/)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.DeleteModel(name="ApiToken"),
        migrations.CreateModel(
            name="ApiToken",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("key_hash", models.CharField(max_length=64, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("expires_at", models.DateTimeField(db_index=True)),
                ("user", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="api_tokens",
                                           to=settings.AUTH_USER_MODEL)),
            ],
        ),
        migrations.AddField(
            model_name="profile",
            name="public_profile",
            field=models.BooleanField(default=False),
        ),
    ]
