"""The translation table for every user-facing string (zh-CN default, English second)."""

from __future__ import annotations

LANGUAGES: tuple[str, ...] = ("zh", "en")

STRINGS: dict[str, dict[str, str]] = {
    "app_title": {"zh": "网格化管理作战图", "en": "Grid management battle map"},
    "level": {"zh": "层级", "en": "Level"},
    "colour_by": {"zh": "着色", "en": "Colour by"},
    "by_status": {"zh": "人员状态", "en": "Status"},
    "by_area_class": {"zh": "三区划分", "en": "Area class"},
    "basemap": {"zh": "底图", "en": "Basemap"},
    "basemap_none": {"zh": "自绘道路", "en": "Own roads"},
    "basemap_osm": {"zh": "OSM 地图", "en": "OSM tiles"},
    "basemap_gaode": {"zh": "高德地图", "en": "Gaode tiles"},
    "search": {"zh": "搜索网格或楼栋", "en": "Search grid or building"},
    "legend": {"zh": "图例", "en": "Legend"},
    "households": {"zh": "户", "en": "households"},
    "persons": {"zh": "人", "en": "persons"},
    "total": {"zh": "合计", "en": "Total"},
    "no_status": {"zh": "未登记", "en": "No status"},
    "person_in_charge": {"zh": "网格负责人", "en": "Person in charge"},
    "drill_down": {"zh": "下钻", "en": "Drill down"},
    "up": {"zh": "返回上级", "en": "Up one level"},
    "whole_area": {"zh": "全域", "en": "Whole area"},
    "layers": {"zh": "图层", "en": "Layers"},
    "grids": {"zh": "网格", "en": "Grids"},
    "buildings": {"zh": "楼栋", "en": "Buildings"},
    "roads": {"zh": "道路", "en": "Roads"},
    "checkpoints": {"zh": "道口", "en": "Checkpoints"},
    "live": {"zh": "实时", "en": "Live"},
    "offline": {"zh": "连接中断", "en": "Disconnected"},
    "loading": {"zh": "加载中…", "en": "Loading…"},
    "login": {"zh": "登录", "en": "Log in"},
    "logout": {"zh": "退出", "en": "Log out"},
    "username": {"zh": "用户名", "en": "Username"},
    "password": {"zh": "密码", "en": "Password"},
    "login_failed": {"zh": "用户名或密码错误", "en": "Wrong username or password"},
    "entry_title": {"zh": "住户状态登记", "en": "Household status entry"},
    "building": {"zh": "楼栋", "en": "Building"},
    "household": {"zh": "住户", "en": "Household"},
    "status": {"zh": "状态", "en": "Status"},
    "save": {"zh": "保存", "en": "Save"},
    "saved": {"zh": "已保存", "en": "Saved"},
    "upload_title": {"zh": "数据导入", "en": "Data import"},
    "upload_status": {"zh": "上传状态表 (CSV/XLSX)", "en": "Upload status table (CSV/XLSX)"},
    "upload_layers": {
        "zh": "导入网格/楼栋/住户 (GeoJSON/GPKG/SHP.zip/KML/CSV/XLSX)",
        "en": "Import grids/buildings/households (GeoJSON/GPKG/SHP.zip/KML/CSV/XLSX)",
    },
    "coordinate_system": {"zh": "坐标系", "en": "Coordinate system"},
    "repair": {"zh": "自动修复无效多边形", "en": "Repair invalid polygons"},
    "submit": {"zh": "提交", "en": "Submit"},
    "rejected": {"zh": "已拒绝，未写入任何数据", "en": "Rejected; nothing was written"},
    "accepted": {"zh": "已写入", "en": "Written"},
    "area_sealed": {"zh": "封控区", "en": "Sealed"},
    "area_controlled": {"zh": "管控区", "en": "Controlled"},
    "area_precaution": {"zh": "防范区", "en": "Precaution"},
    "area_none": {"zh": "未划分", "en": "None"},
    "print": {"zh": "打印挂图", "en": "Print"},
    "not_found": {"zh": "未找到", "en": "Not found"},
    "entrances": {"zh": "出入口", "en": "Entrances"},
    "cordon": {"zh": "封控道口方案", "en": "Cordon plan"},
    "staffed": {"zh": "有人值守", "en": "Staffed"},
    "closed": {"zh": "已封闭", "en": "Closed"},
    "uncovered": {"zh": "未覆盖", "en": "Uncovered"},
    "barrier": {"zh": "硬隔离", "en": "Barrier"},
    "existing": {"zh": "保留现有道口", "en": "Existing kept"},
    "outward_m": {"zh": "可外移距离 (米)", "en": "May move out (m)"},
    "replan": {"zh": "不保留现有道口", "en": "Ignore existing checkpoints"},
    "staffed_points": {"zh": "值守道口", "en": "Staffed points"},
    "barriers": {"zh": "硬隔离", "en": "Barriers"},
    "extra_households": {"zh": "额外纳入户数", "en": "Extra households"},
    "persons_per_day": {"zh": "每日值守人次", "en": "Person-shifts per day"},
    "staffed_now": {"zh": "现有值守道口", "en": "Staffed now"},
    "tradeoff": {"zh": "道口前移权衡", "en": "Moving the cordon outward"},
    "served_households": {"zh": "经此出入户数", "en": "Households served"},
    "clear": {"zh": "清除", "en": "Clear"},
    "routes": {"zh": "保供与巡逻路线", "en": "Delivery and patrol routes"},
    "delivery_plans": {"zh": "保供配送计划", "en": "Delivery plans"},
    "patrol_plans": {"zh": "巡逻计划", "en": "Patrol plans"},
    "new_plan": {"zh": "生成配送计划", "en": "Plan a delivery run"},
    "morning": {"zh": "上午", "en": "Morning"},
    "afternoon": {"zh": "下午", "en": "Afternoon"},
    "vans": {"zh": "面包车", "en": "Vans"},
    "tricycles": {"zh": "电动三轮车", "en": "E-tricycles"},
    "time_limit": {"zh": "求解时间 (秒)", "en": "Solve time (s)"},
    "route": {"zh": "路线", "en": "Route"},
    "stops": {"zh": "站点", "en": "Stops"},
    "distance_km": {"zh": "里程 (公里)", "en": "Distance (km)"},
    "eta": {"zh": "预计到达", "en": "ETA"},
    "boxes": {"zh": "箱", "en": "boxes"},
    "drops": {"zh": "分送楼栋", "en": "Drops"},
    "delivered": {"zh": "已送达", "en": "Delivered"},
    "failed": {"zh": "无法送达", "en": "Could not deliver"},
    "pending": {"zh": "待送", "en": "Pending"},
    "reason": {"zh": "原因", "en": "Reason"},
    "reason_nobody": {"zh": "无人接收", "en": "Nobody to receive"},
    "reason_road": {"zh": "道路不通", "en": "Road blocked"},
    "reason_address": {"zh": "地址有误", "en": "Wrong address"},
    "reason_other": {"zh": "其他", "en": "Other"},
    "download_gpx": {"zh": "下载 GPX 导航", "en": "Download GPX"},
    "manifest": {"zh": "打印装车单", "en": "Print manifest"},
    "replan_route": {"zh": "按当前位置重新规划", "en": "Re-plan from current positions"},
    "deliveries": {"zh": "保供进度", "en": "Deliveries"},
    "handover_gate": {"zh": "门口交接", "en": "Hand over at gate"},
    "working": {"zh": "正在计算…", "en": "Working…"},
    "team": {"zh": "巡逻组", "en": "Team"},
    "street_km": {"zh": "街巷总长 (公里)", "en": "Streets (km)"},
    "deadhead_km": {"zh": "重复行走 (公里)", "en": "Walked twice (km)"},
    "longest_km": {"zh": "最长一组 (公里)", "en": "Longest team (km)"},
    "within_shift": {"zh": "班次内可完成", "en": "Within the shift"},
    "over_shift": {"zh": "超出班次", "en": "Over the shift"},
    "revisit": {"zh": "每处道口巡查间隔 (分钟)", "en": "Minutes between visits"},
    "hours": {"zh": "小时", "en": "h"},
}


def translate(key: str, lang: str) -> str:
    """Return the string for ``key`` in ``lang`` (falls back to Chinese, then the key)."""
    entry = STRINGS.get(key)
    if entry is None:
        return key
    return entry.get(lang) or entry["zh"]


def table(lang: str) -> dict[str, str]:
    """Return the whole table in one language, for the browser."""
    return {key: translate(key, lang) for key in STRINGS}


def pick_language(requested: str | None, default: str) -> str:
    """Choose a supported language from a request parameter or cookie value."""
    if requested in LANGUAGES:
        return requested  # type: ignore[return-value]
    return default if default in LANGUAGES else "zh"
