"""Scrapy settings for every Pricewatch crawl, tuned per DESIGN.md's measured facts.

Per-site politeness (concurrency, delay, robots.txt, timeout, retries) is not here: the generic
spider applies it from the site's YAML in ``SiteSpider.from_crawler``, before settings freeze.
"""

BOT_NAME = "pricewatch"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

# Honest about who we are; shops can reach us.
USER_AGENT = "Pricewatch/0.1 (+https://github.com/pricewatch/pricewatch)"
ROBOTSTXT_OBEY = True  # the default; a site config may say otherwise
DEFAULT_REQUEST_HEADERS = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,application/json;q=0.8,*/*;q=0.7",
    "Accept-Language": "en",
}

# One Scrapy process is one core. CONCURRENT_ITEMS=100 (the default) starts 100 asyncio tasks
# for every response; 8 doubled a bare spider's pages/s (DESIGN.md, "Facts").
CONCURRENT_ITEMS = 8
# Per crawl: each site has its own downloader; the spider sets 2x the site's concurrency.
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 0.5
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 16 * 1024 * 1024  # a product page is never 16 MB; scraped content is bounded
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
REACTOR_THREADPOOL_MAXSIZE = 4

# Retries back off exponentially and honour 429 Retry-After (crawler.middlewares.retry).
RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
RETRY_BACKOFF_BASE = 0.5  # seconds; doubled at each retry of the same request
RETRY_BACKOFF_MAX = 30.0
RETRY_AFTER_MAX = 120.0  # a Retry-After longer than this gives up on the request
RETRY_RATE_LIMITED_TIMES = 6  # retries of a 429 (at least the site's own retries)

# Scrapy checks every generator callback for "return value" by reading its source with inspect,
# on every response (its cache is keyed by short-lived bound methods): 1.3 ms a page, measured.
WARN_ON_GENERATOR_RETURN_VALUE = False

# Only what a price crawl needs.
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
LOG_LEVEL = "INFO"
# Scrapy's per-page "Crawled" and per-item "Scraped" DEBUG messages are not even built when
# LOG_LEVEL would not show them (crawler/logformatter.py).
LOG_FORMATTER = "crawler.logformatter.QuietLogFormatter"
LOGSTATS_INTERVAL = 60.0
MEMUSAGE_ENABLED = True
METAREFRESH_ENABLED = False
HTTPCACHE_ENABLED = False
EXTENSIONS = {
    # CoreStats, with item_scraped_count counting a batch's offers (crawler/items.py).
    "scrapy.extensions.corestats.CoreStats": None,
    "crawler.extensions.offerstats.OfferStats": 0,
    "scrapy.extensions.telnet.TelnetConsole": None,
    "scrapy.extensions.feedexport.FeedExporter": None,
    "scrapy.extensions.spiderstate.SpiderState": None,
    "scrapy.extensions.remote_control.RemoteControl": None,
    "crawler.extensions.runrecord.RunRecorder": 100,
    "crawler.extensions.progress.ProgressReporter": 200,
    # robots.txt's Crawl-delay raises the site's delay when robots.txt is obeyed (the default).
    "crawler.extensions.crawl_delay.RobotsCrawlDelay": 300,
}
DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware": None,
    "scrapy.downloadermiddlewares.cookies.CookiesMiddleware": None,
    "scrapy.downloadermiddlewares.httpproxy.HttpProxyMiddleware": None,
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "scrapy.downloadermiddlewares.httpcache.HttpCacheMiddleware": None,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.retry.BackoffRetryMiddleware": 550,
    # Between retry (550) and the downloader: sees each raw response once, may ask for a retry.
    "crawler.middlewares.guard.PageGuardMiddleware": 560,
    "crawler.middlewares.conditional.ConditionalRequestMiddleware": 580,
    # A site's politeness across all workers; only with PRICEWATCH_POLITENESS_REDIS. Next to
    # the downloader, so it sees every response first (a redirect or retry cannot hide one).
    "crawler.distributed.politeness.SharedPolitenessMiddleware": 950,
}
SPIDER_MIDDLEWARES = {
    # A spider author's aid (warns when a request copies Scrapy-internal meta keys); ours
    # builds every request's meta itself, and it cost a pass over every output of every page.
    "scrapy.spidermiddlewares.metacopy.MetaCopyDetectionMiddleware": None,
    "crawler.middlewares.conditional.ValidatorRecorderMiddleware": 950,
    # Only with PRICEWATCH_BATCH (a scale-out batch). Outside the validator recorder (950), so
    # a page's recorded links are all of them, whichever batch fetched it first.
    "crawler.batches.BatchFilter": 900,
    # Only with PRICEWATCH_REFRESH_URLS (a refresh crawl): starts from those pages, follows no
    # link. Inside the validator recorder (950), so a page's recorded links stay complete.
    "crawler.middlewares.refresh.RefreshStart": 940,
}
ITEM_PIPELINES = {
    "crawler.pipelines.ValidatePipeline": 100,
    "crawler.pipelines.NormalizePipeline": 200,
    "crawler.pipelines.StorePipeline": 300,
}

# Pricewatch's own settings (each component reads its own, once, in __init__).
PRICEWATCH_DB_URL = None  # None: PRICEWATCH_DB_URL from the environment, else ./pricewatch.db
PRICEWATCH_INIT_DB = True  # migrate the schema on first use (crawl_sites' children: it did)
PRICEWATCH_SITES_DIR = None  # None: PRICEWATCH_SITES_DIR from the environment, else crawler/sites
PRICEWATCH_TRIGGER = "scrapy"  # recorded on the crawl run: cli, schedule, celery:<batch>, bench
PRICEWATCH_STORE_BATCH = 2000  # items per write transaction
PRICEWATCH_SUSPECT_FACTOR = 3.0  # a price moving more than ×3 or ÷3 since last time is suspect
PRICEWATCH_MAX_PRICE = 10_000_000  # above this, a "price" is a parse error (a GTIN, a phone no.)
PRICEWATCH_CONDITIONAL = True  # ETag / If-Modified-Since, so unchanged pages cost a 304
PRICEWATCH_RUN_FLUSH_INTERVAL = 10.0  # seconds between crawl_runs counter updates
PRICEWATCH_PROGRESS = False  # print JSON-lines progress to stdout (pricewatch crawl reads it)
PRICEWATCH_PROGRESS_INTERVAL = 0.5
PRICEWATCH_BATCH = None  # "NUMBER/COUNT": crawl only that batch of the site (crawler/batches.py)
PRICEWATCH_REFRESH_URLS = None  # a file of URLs (or a list): re-read only those pages (refresh)
PRICEWATCH_ROBOTS_MAX_DELAY = 60.0  # a robots.txt Crawl-delay above this is capped (logged)
PRICEWATCH_POLITENESS_REDIS = None  # Redis URL: politeness shared by every worker of a site
