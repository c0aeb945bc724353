"""Demo catalog, customers and order history. Safe to run again: it adds what is missing.

Past orders are written with ``bulk_create`` and no signals, so loading history never
enrolls anyone in a flow or sends mail.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from .checkout import DELIVERY_DAYS, shipping_cost
from .models import Category, Order, OrderItem, Product, Review

DEMO_PASSWORD = "demo12345"

CATEGORIES = [
    ("Backpacks", "Daypacks, trekking and travel backpacks."),
    ("Tents", "Shelter for one night or a whole season."),
    ("Clothing", "Layers for wind, rain and cold."),
    ("Accessories", "Bottles, headlamps, covers and other small things."),
]

# (category, sku, name, price, description)
PRODUCTS = [
    ("Backpacks", "BP-DAY-20", "Trail Daypack 20 L", "3490", "Light daypack with a hip belt."),
    ("Backpacks", "BP-TRK-45", "Trekker 45 L", "8990", "Adjustable back, rain cover pocket."),
    ("Backpacks", "BP-EXP-65", "Expedition 65 L", "14990", "For multi-day trips with a tent."),
    ("Backpacks", "BP-CITY-18", "City Commuter 18 L", "4290", "Laptop sleeve, reflective trims."),
    ("Tents", "TN-SOLO-1", "Solo Ultralight Tent", "12490", "1 person, 1.1 kg."),
    ("Tents", "TN-DOME-2", "Dome 2 Tent", "9990", "Easy two-pole dome for two."),
    ("Tents", "TN-FAM-4", "Family Camp 4 Tent", "21990", "Two rooms and a tall vestibule."),
    ("Tents", "TN-TARP-3", "Tarp 3×3 m", "2990", "Shade and rain shelter."),
    ("Clothing", "CL-SHELL-M", "Storm Shell Jacket", "11990", "Waterproof 20 000 mm."),
    ("Clothing", "CL-FLEECE", "Grid Fleece", "4590", "Warm mid layer that dries fast."),
    ("Clothing", "CL-BASE", "Merino Base Layer", "5490", "Merino wool, no itch."),
    ("Clothing", "CL-HAT", "Beanie", "1290", "Soft knit hat."),
    ("Accessories", "AC-COVER-L", "Rain Cover 40-70 L", "1490", "Fits most trekking packs."),
    ("Accessories", "AC-BOTTLE", "Steel Bottle 0.75 L", "1690", "Keeps drinks hot for 12 h."),
    ("Accessories", "AC-LAMP", "Headlamp 300 lm", "2490", "USB-C rechargeable."),
    ("Accessories", "AC-GAS-230", "Stove Gas 230 g", "490", "About a month of weekend trips."),
    ("Accessories", "AC-POLES", "Trekking Poles", "3990", "Aluminium, pair, flick lock."),
]

# (username, first, last, email, locale)
CUSTOMERS = [
    ("anna", "Анна", "Петрова", "anna.petrova@example.com", "ru"),
    ("taras", "Тарас", "Коваленко", "taras.kovalenko@example.com", "uk"),
    ("emily", "Emily", "Clark", "emily.clark@example.com", "en"),
    ("ivan", "Иван", "Смирнов", "ivan.smirnov@example.com", "ru"),
    ("olena", "Олена", "Шевченко", "olena.shevchenko@example.com", "uk"),
]

ADDRESSES = {
    "ru": "ул. Лесная, д. 5, кв. 12, Москва, 125047",
    "uk": "вул. Хрещатик, 22, кв. 7, Київ, 01001",
    "en": "221B Baker Street, London NW1 6XE",
}

# (number, customer index, days ago, status, [(sku, qty)], shipping method)
ORDERS = [
    ("D-1001", 0, 60, Order.Status.DELIVERED, [("BP-TRK-45", 1), ("AC-COVER-L", 1)], "courier"),
    ("D-1002", 1, 45, Order.Status.DELIVERED, [("TN-DOME-2", 1)], "post"),
    ("D-1003", 2, 30, Order.Status.DELIVERED, [("CL-SHELL-M", 1), ("CL-HAT", 2)], "courier"),
    ("D-1004", 3, 21, Order.Status.REFUNDED, [("BP-EXP-65", 1)], "courier"),
    ("D-1005", 4, 14, Order.Status.DELIVERED, [("BP-DAY-20", 1), ("AC-BOTTLE", 1)], "pickup"),
    ("D-1006", 0, 9, Order.Status.SHIPPED, [("AC-LAMP", 2)], "post"),
    ("D-1007", 2, 6, Order.Status.CANCELLED, [("TN-FAM-4", 1)], "courier"),
    ("D-1008", 1, 4, Order.Status.SHIPPED, [("CL-FLEECE", 1), ("CL-BASE", 1)], "courier"),
    ("D-1009", 3, 2, Order.Status.PROCESSING, [("AC-POLES", 1), ("BP-TRK-45", 1)], "courier"),
    ("D-1010", 4, 1, Order.Status.NEW, [("TN-SOLO-1", 1), ("AC-BOTTLE", 1)], "post"),
]

# (order number, sku, rating, text)
REVIEWS = [
    ("D-1001", "BP-TRK-45", 5, "Carried it for a week in Karelia, the back stayed dry."),
    ("D-1002", "TN-DOME-2", 4, "Pitches in five minutes. The bag could be bigger."),
    ("D-1003", "CL-SHELL-M", 5, "Held up in a full day of rain."),
    ("D-1005", "AC-BOTTLE", 4, "Tea still warm in the evening."),
]


@transaction.atomic
def load_demo_data() -> dict[str, int]:
    """Create the demo catalog, customers, past orders and reviews that are missing.

    Returns how many rows of each kind were created (all zero on a second run).
    """
    created = {"categories": 0, "products": 0, "customers": 0, "orders": 0, "reviews": 0}

    categories = {}
    for position, (name, description) in enumerate(CATEGORIES):
        cat, new = Category.objects.get_or_create(
            slug=slugify(name),
            defaults={"name": name, "description": description, "position": position},
        )
        categories[name] = cat
        created["categories"] += new

    products = {}
    for cat_name, sku, name, price, description in PRODUCTS:
        product, new = Product.objects.get_or_create(
            sku=sku,
            defaults={
                "name": name,
                "slug": slugify(name),
                "category": categories[cat_name],
                "price": Decimal(price),
                "description": description,
            },
        )
        products[sku] = product
        created["products"] += new

    User = get_user_model()
    users = []
    for username, first, last, email, _locale in CUSTOMERS:
        user, new = User.objects.get_or_create(
            username=username, defaults={"first_name": first, "last_name": last, "email": email}
        )
        if new:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        users.append(user)
        created["customers"] += new

    existing = set(
        Order.objects.filter(number__in=[o[0] for o in ORDERS]).values_list("number", flat=True)
    )
    now = timezone.now()
    new_orders, new_items = [], []
    for number, who, days_ago, status, lines, method in ORDERS:
        if number in existing:
            continue
        _username, first, last, email, locale = CUSTOMERS[who]
        placed_at = now - timedelta(days=days_ago)
        subtotal = sum((products[sku].price * qty for sku, qty in lines), Decimal("0"))
        cost = shipping_cost(method, subtotal)
        order = Order(
            number=number,
            user=users[who],
            email=email,
            first_name=first,
            last_name=last,
            phone="+7 900 000-00-0" + number[-1],
            locale=locale,
            shipping_address="" if method == "pickup" else ADDRESSES[locale],
            shipping_method=method,
            status=status,
            tracking_url=(
                f"https://tracking.example.com/{number}"
                if status in (Order.Status.SHIPPED, Order.Status.DELIVERED)
                else ""
            ),
            subtotal=subtotal,
            shipping_cost=cost,
            total=subtotal + cost,
            created_at=placed_at,
            delivery_estimate=(placed_at + timedelta(days=DELIVERY_DAYS[method])).date(),
        )
        new_orders.append(order)
        for sku, qty in lines:
            p = products[sku]
            new_items.append(
                OrderItem(
                    order=order,
                    product=p,
                    sku=p.sku,
                    name=p.name,
                    category_name=p.category.name,
                    price=p.price,
                    qty=qty,
                )
            )
    # bulk_create sets pks on SQLite and PostgreSQL, so the items can point at them.
    Order.objects.bulk_create(new_orders)
    for item in new_items:
        item.order_id = item.order.pk
    OrderItem.objects.bulk_create(new_items)
    created["orders"] = len(new_orders)

    orders = {o.number: o for o in Order.objects.filter(number__in=[r[0] for r in REVIEWS])}
    have_review = set(
        Review.objects.filter(order__number__in=orders).values_list("order__number", "product__sku")
    )
    new_reviews = []
    for number, sku, rating, text in REVIEWS:
        if (number, sku) in have_review or number not in orders:
            continue
        order = orders[number]
        new_reviews.append(
            Review(
                product=products[sku],
                order=order,
                user=order.user,
                email=order.email,
                name=order.customer_name,
                rating=rating,
                text=text,
                created_at=order.created_at + timedelta(days=10),
            )
        )
    Review.objects.bulk_create(new_reviews)
    created["reviews"] = len(new_reviews)
    return created
