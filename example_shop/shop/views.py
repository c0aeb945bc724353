from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.views import LoginView as BaseLoginView
from django.core.exceptions import PermissionDenied
from django.db.models import Avg, Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from postpurchase.coupons import give_back_code_attempt, take_code_attempt
from postpurchase.public.ratelimit import client_address

from .cart import Cart
from .checkout import CheckoutError, CouponRejected, place_order
from .forms import CartQuantityForm, CheckoutForm, ReviewForm
from .models import Category, Order, Product
from .reviews import submit_review
from .tracking import cart_data, product_data, track_customer_event

# Orders this browser placed as a guest may be viewed without a login.
PLACED_ORDERS_KEY = "placed_orders"


def home(request: HttpRequest) -> HttpResponse:
    categories = Category.objects.annotate(
        n_products=Count("products", filter=Q(products__is_active=True))
    )
    featured = Product.objects.filter(is_active=True).select_related("category")[:8]
    return render(request, "shop/home.html", {"categories": categories, "featured": featured})


def category(request: HttpRequest, slug: str) -> HttpResponse:
    cat = get_object_or_404(Category, slug=slug)
    products = cat.products.filter(is_active=True).select_related("category")
    return render(request, "shop/category.html", {"category": cat, "products": products})


def product(request: HttpRequest, slug: str) -> HttpResponse:
    item = get_object_or_404(Product.objects.select_related("category"), slug=slug, is_active=True)
    if request.method == "POST":
        form = ReviewForm(request.POST)
        if form.is_valid():
            submit_review(
                item,
                email=form.cleaned_data["email"],
                name=form.cleaned_data["name"],
                rating=form.cleaned_data["rating"],
                text=form.cleaned_data["text"],
                user=request.user,
            )
            messages.success(request, "Thank you for your review!")
            return redirect(item.get_absolute_url() + "#reviews")
        messages.error(request, "Please correct the errors in your review.")
    else:
        form = ReviewForm(initial=_customer_initial(request))
        track_customer_event(
            request,
            "product_viewed",
            obj=item,
            data=product_data(item),
        )
    reviews = item.reviews.all()
    stats = reviews.aggregate(avg=Avg("rating"), n=Count("pk"))
    return render(
        request,
        "shop/product.html",
        {"product": item, "reviews": reviews, "stats": stats, "form": form},
    )


def cart_detail(request: HttpRequest) -> HttpResponse:
    cart = Cart(request.session)
    lines = cart.lines()
    return render(
        request, "shop/cart.html", {"lines": lines, "subtotal": sum(line.total for line in lines)}
    )


@require_POST
def cart_add(request: HttpRequest, product_id: int) -> HttpResponse:
    item = get_object_or_404(Product, pk=product_id, is_active=True)
    form = CartQuantityForm(request.POST or {"qty": 1})
    qty = form.cleaned_data["qty"] if form.is_valid() else 1
    cart = Cart(request.session)
    cart.add(item, max(qty, 1))
    _cart_changed(request, cart)
    messages.success(request, f"Added {item.name} to your cart.")
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = reverse("shop:cart")
    return redirect(next_url)


@require_POST
def cart_update(request: HttpRequest, product_id: int) -> HttpResponse:
    item = get_object_or_404(Product, pk=product_id)
    form = CartQuantityForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Quantity must be a number from 0 to 99.")
        return redirect("shop:cart")
    cart = Cart(request.session)
    cart.set(item, form.cleaned_data["qty"])
    _cart_changed(request, cart)
    return redirect("shop:cart")


@require_POST
def cart_remove(request: HttpRequest, product_id: int) -> HttpResponse:
    item = get_object_or_404(Product, pk=product_id)
    cart = Cart(request.session)
    cart.remove(item)
    _cart_changed(request, cart)
    messages.info(request, f"Removed {item.name} from your cart.")
    return redirect("shop:cart")


def checkout(request: HttpRequest) -> HttpResponse:
    cart = Cart(request.session)
    lines = cart.lines()
    if not lines:
        messages.info(request, "Your cart is empty.")
        return redirect("shop:cart")
    if request.method == "POST":
        form = CheckoutForm(request.POST)
        if form.is_valid():
            code = form.cleaned_data.get("coupon", "")
            client = coupon_client_key(request)
            try:
                # Counted before the code is looked up, so concurrent guesses cannot
                # all pass; given back below unless the code was refused.
                if code and not take_code_attempt(client):
                    raise CouponRejected(
                        "Too many wrong coupon codes. Please try again in a few minutes.",
                        "rate_limited",
                    )
                order = place_order(lines, form.customer(), user=request.user, coupon_code=code)
            except CouponRejected as exc:
                form.add_error("coupon", str(exc))
            except CheckoutError as exc:
                if code:
                    give_back_code_attempt(client)  # the code was not what failed
                # Keep what the customer typed; the form re-renders with the reason.
                form.add_error(None, str(exc))
            else:
                if code:
                    give_back_code_attempt(client)
                cart.clear()
                placed = request.session.get(PLACED_ORDERS_KEY, [])
                request.session[PLACED_ORDERS_KEY] = [*placed[-19:], order.number]
                return redirect(order.get_absolute_url())
    else:
        form = CheckoutForm(
            initial={
                **_customer_initial(request),
                "shipping_method": Order.ShippingMethod.COURIER,
                "payment_method": Order.PaymentMethod.CARD,
            }
        )
    return render(
        request,
        "shop/checkout.html",
        {"form": form, "lines": lines, "subtotal": sum(line.total for line in lines)},
    )


def coupon_client_key(request: HttpRequest) -> str:
    """Who is trying codes: the client's address, as POSTPURCHASE["CLIENT_IP"] says
    (behind a proxy, name the header it sets and how many proxies there are)."""
    return "checkout-ip:" + client_address(request)


def order_detail(request: HttpRequest, number: str) -> HttpResponse:
    order = get_object_or_404(Order.objects.prefetch_related("items__product"), number=number)
    if not _can_view(request, order):
        # 403, not 404: the link from the email is probably just missing its key.
        raise PermissionDenied("Open this order from the link in your email or log in.")
    return render(request, "shop/order.html", {"order": order})


class LoginView(BaseLoginView):
    template_name = "shop/login.html"
    redirect_authenticated_user = True


def _can_view(request: HttpRequest, order: Order) -> bool:
    user = request.user
    if user.is_authenticated and (user.is_staff or order.user_id == user.pk):
        return True
    if order.number in request.session.get(PLACED_ORDERS_KEY, []):
        return True
    key = request.GET.get("key", "")
    return bool(key) and constant_time_compare(key, order.access_key())


def _customer_initial(request: HttpRequest) -> dict[str, str]:
    user = request.user
    if not user.is_authenticated:
        return {}
    return {
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "name": user.get_full_name() or user.get_username(),
    }


def _cart_changed(request: HttpRequest, cart: Cart) -> None:
    """``cart_updated`` with the whole cart while it has lines, ``cart_emptied`` once it
    has none (the cart-abandonment recipe starts on the first and ends on the second)."""
    lines = cart.lines()
    if not lines:
        track_customer_event(request, "cart_emptied")
        return
    track_customer_event(request, "cart_updated", data=cart_data(lines))
