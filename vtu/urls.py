from django.urls import path

from vtu import apis, apis_disputes, views

urlpatterns = [
    path("data/plans", apis.DataPlansApi.as_view(), name="data-plans"),
    path("data/purchase", apis.DataPurchaseApi.as_view(), name="data-purchase"),
    path("data/sync", apis.DataSyncApi.as_view(), name="data-sync"),
    path("airtime/purchase", apis.AirtimePurchaseApi.as_view(), name="airtime-purchase"),
    path("purchases", apis.PurchaseListApi.as_view(), name="purchase-list"),
    path("purchases/<str:reference>", apis.PurchaseDetailApi.as_view(), name="purchase-detail"),
    path("purchases/<str:reference>/dispute", apis_disputes.PurchaseDisputeApi.as_view(), name="purchase-dispute"),
    path("disputes", apis_disputes.DisputeListApi.as_view(), name="dispute-list"),
    path("providers/<str:provider>/callback", views.provider_callback, name="provider-callback"),
]
