from django.urls import path

from payments import apis, views

urlpatterns = [
    path("wallet/fund", apis.FundApi.as_view(), name="wallet-fund"),
    path("wallet/fund/<str:reference>", apis.FundStatusApi.as_view(), name="wallet-fund-status"),
    path("wallet/virtual-accounts", apis.VirtualAccountsApi.as_view(), name="wallet-virtual-accounts"),
    path("wallet/paystack/webhook", views.paystack_webhook, name="wallet-paystack-webhook"),
    path("payments/webhooks/<str:gateway>", views.gateway_webhook, name="payments-webhook"),
]
