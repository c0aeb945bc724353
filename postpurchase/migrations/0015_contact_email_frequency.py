from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('postpurchase', '0014_tracking_rollups'),
    ]

    operations = [
        migrations.AddField(
            model_name='contact',
            name='email_frequency',
            field=models.CharField(choices=[('all', 'Everything'), ('weekly', 'At most one a week'), ('monthly', 'At most one a month'), ('orders_only', 'Only order updates')], default='all', max_length=12, verbose_name='email frequency'),
        ),
    ]
